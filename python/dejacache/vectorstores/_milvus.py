"""Milvus behind the ``VectorStore`` interface (``pip install 'dejacache[milvus]'``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._urls import redact
from ._base import _library
from ._database import DatabaseStore, Row, as_i64, as_u64, namespace_hash, row_key, url_parts

_METRICS = {"cosine": "COSINE", "dot": "IP", "l2": "L2"}
#: the longest namespace and payload a row holds, in bytes of UTF-8 (Milvus VARCHAR's limit)
MAX_NAMESPACE_BYTES = MAX_PAYLOAD_BYTES = 65_535


class MilvusStore(DatabaseStore):
    """One Milvus collection: a primary key (a digest of namespace and id), the namespace
    (``ns``) and its 64-bit digest (``nsh``), the id (``vid``) and the vector.

    >>> store = MilvusStore(384, uri="http://127.0.0.1:19530")  # a server or cluster  # doctest: +SKIP
    >>> store = MilvusStore(384, uri="vectors.db")              # milvus-lite, a local file  # doctest: +SKIP

    Every request filters on ``nsh == <digest>`` (an integer: no namespace text is ever spliced
    into a filter expression), and each hit's ``ns`` is checked against the namespace asked
    for, so two namespaces whose digests collided still never see each other's rows. The
    collection is created with strong consistency: a search sees every add that returned.
    Without ``uri``, a private milvus-lite database in a temporary directory (removed by
    ``close``). ``index_type``: the vector index Milvus builds (``"AUTOINDEX"`` by default;
    milvus-lite builds FLAT whatever is asked). ``timeout``: seconds per request.
    """

    _serialize = False  # the client speaks gRPC to a server (milvus-lite runs one too): thread-safe

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        *,
        uri: str | None = None,
        token: str = "",
        collection: str | None = None,
        index_type: str = "AUTOINDEX",
        timeout: float = 5.0,
        client: Any = None,
    ) -> None:
        self._pymilvus = _library("pymilvus", "MilvusStore", "milvus")
        super().__init__(dim, metric)
        self._tmp: str | None = None
        if uri is None and client is None:
            self._tmp = tempfile.mkdtemp(prefix="dejacache-milvus-")
            uri = str(Path(self._tmp) / "vectors.db")
        from ..stores import resolve_secret

        self._uri, self._given = uri, client
        self._token = resolve_secret(token, "token")  # os.environ/NAME: read from the environment
        self._collection = collection or f"dejacache_{self._metric}_{self._dim}"
        self._index_type, self._timeout = index_type, float(timeout)
        self._client: Any = None
        self._connect_or_warn("Milvus")

    @classmethod
    def from_url(cls, url: str, dim: int, metric: str = "cosine", **options: Any) -> MilvusStore:
        """``milvus://host:port`` (a server or cluster; ``milvuss://`` over TLS), or a
        milvus-lite file: ``milvus:///relative/x.db`` or ``milvus:////absolute/x.db``."""
        scheme, netloc, path = url_parts(url, ("milvus", "milvuss"))
        if netloc:
            return cls(dim, metric, uri=f"{'https' if scheme == 'milvuss' else 'http'}://{netloc}", **options)
        return cls(dim, metric, uri=path, **options)

    def __repr__(self) -> str:
        where = redact(self._uri) if self._uri is not None and self._given is None else "client"
        return f"MilvusStore(dim={self._dim}, metric={self._metric!r}, at={where!r}, collection={self._collection!r})"

    def _connect(self) -> None:
        pm = self._pymilvus
        client = self._given or pm.MilvusClient(uri=self._uri, token=self._token, timeout=self._timeout)
        name, t = self._collection, self._timeout
        if client.has_collection(name, timeout=t):
            fields = {f["name"]: f for f in client.describe_collection(name, timeout=t)["fields"]}
            vec = fields.get("v")
            dim = (vec or {}).get("params", {}).get("dim")
            if not {"pk", "ns", "nsh", "vid", "p", "v"} <= set(fields) or int(dim or 0) != self._dim:
                raise ValueError(
                    f"Milvus collection {name!r} is not a {self._dim}-dimensional dejacache collection "
                    f"(fields {sorted(fields)}, dim {dim}): pass another collection="
                )
        else:
            schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("pk", pm.DataType.VARCHAR, is_primary=True, max_length=32)
            schema.add_field("ns", pm.DataType.VARCHAR, max_length=MAX_NAMESPACE_BYTES)
            schema.add_field("nsh", pm.DataType.INT64)
            schema.add_field("vid", pm.DataType.INT64)
            schema.add_field("p", pm.DataType.VARCHAR, max_length=MAX_PAYLOAD_BYTES, nullable=True)
            schema.add_field("v", pm.DataType.FLOAT_VECTOR, dim=self._dim)
            index = client.prepare_index_params()
            index.add_index(field_name="v", index_type=self._index_type, metric_type=_METRICS[self._metric])
            index.add_index(field_name="nsh", index_type="INVERTED")
            client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong", timeout=t)
        client.load_collection(name, timeout=t)
        self._client = client

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None and client is not self._given:
            client.close()

    def close(self) -> None:
        super().close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    @staticmethod
    def _pk(namespace: str, id: int) -> str:
        return row_key(namespace, id).hex()

    def _upsert(self, namespace: str, ids: np.ndarray, vectors: np.ndarray, payloads: list[str | None]) -> None:
        if len(namespace.encode("utf-8", "surrogatepass")) > MAX_NAMESPACE_BYTES:
            raise ValueError(f"a Milvus namespace holds at most {MAX_NAMESPACE_BYTES} bytes of UTF-8")
        if any(p is not None and len(p.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES for p in payloads):
            raise ValueError(f"a Milvus payload holds at most {MAX_PAYLOAD_BYTES} bytes of UTF-8")
        nsh = namespace_hash(namespace)
        rows = [
            {"pk": self._pk(namespace, i), "ns": namespace, "nsh": nsh, "vid": s, "p": p, "v": v}
            for i, s, v, p in zip(ids.tolist(), as_i64(ids), vectors, payloads)
        ]
        self._client.upsert(self._collection, rows, timeout=self._timeout)

    def _present(self, namespace: str, ids: np.ndarray) -> np.ndarray:
        keys = [self._pk(namespace, i) for i in ids.tolist()]
        got = self._client.get(self._collection, ids=keys, output_fields=["ns"], timeout=self._timeout)
        found = {r["pk"] for r in got if r["ns"] == namespace}
        return np.array([k in found for k in keys], bool)

    def _delete(self, namespace: str, ids: np.ndarray) -> None:
        self._client.delete(self._collection, ids=[self._pk(namespace, i) for i in ids.tolist()], timeout=self._timeout)

    def _where(self, namespace: str) -> str:
        return f"nsh == {namespace_hash(namespace)}"

    def _query(self, namespace: str, queries: np.ndarray, k: int) -> list[list[Row]]:
        found = self._client.search(
            self._collection,
            data=list(queries),
            anns_field="v",
            limit=k,
            filter=self._where(namespace),
            output_fields=["ns", "vid", "p"],
            timeout=self._timeout,
        )
        out = []
        for hits in found:
            mine = [h["entity"] for h in hits if h["entity"]["ns"] == namespace]
            scores = [float(h["distance"]) for h in hits if h["entity"]["ns"] == namespace]
            out.append(list(zip(as_u64([e["vid"] for e in mine]).tolist(), scores, [e.get("p") for e in mine])))
        return out

    def _count(self, namespace: str | None) -> int:
        # By digest: two namespaces sharing a 64-bit digest would both be counted here (searches
        # and membership check the namespace itself).
        where = "" if namespace is None else self._where(namespace)
        got = self._client.query(self._collection, filter=where, output_fields=["count(*)"], timeout=self._timeout)
        return int(got[0]["count(*)"])

    def _scan(self, where: str, fields: list[str]) -> Iterator[list[dict]]:
        it = self._client.query_iterator(
            self._collection, batch_size=1000, filter=where, output_fields=fields, timeout=self._timeout
        )
        try:
            while batch := it.next():
                yield batch
        finally:
            it.close()

    def _namespaces(self) -> set[str]:
        return {r["ns"] for batch in self._scan("", ["ns"]) for r in batch}

    def _export(self, namespace: str) -> Iterator[tuple[np.ndarray, np.ndarray, list[str | None]]]:
        for batch in self._scan(self._where(namespace), ["ns", "vid", "p", "v"]):
            rows = [r for r in batch if r["ns"] == namespace]
            if rows:
                ids = as_u64([r["vid"] for r in rows])
                yield ids, np.asarray([r["v"] for r in rows], np.float32), [r.get("p") for r in rows]
