"""Qdrant behind the ``VectorStore`` interface (``pip install 'dejacache[qdrant]'``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._urls import redact
from ._base import _library
from ._database import DatabaseStore, Row, as_i64, as_u64, row_key, url_parts

_DISTANCES = {"cosine": "COSINE", "dot": "DOT", "l2": "EUCLID"}


class QdrantStore(DatabaseStore):
    """One Qdrant collection; each point's payload holds its namespace (``ns``) and id (``vid``),
    and every request filters on ``ns``.

    >>> store = QdrantStore(384, url="http://127.0.0.1:6333")  # a server  # doctest: +SKIP
    >>> store = QdrantStore(384, path="vectors.qdrant")         # local mode, on disk  # doctest: +SKIP
    >>> store = QdrantStore(384)                                # local mode, in memory  # doctest: +SKIP

    ``timeout``: seconds a request to a server may take. ``collection``: default
    ``dejacache_<metric>_<dim>``. Qdrant reports Euclidean distance; this store squares it, as
    every store reports squared ``l2``. Local mode is Qdrant's own embedded engine (an exact
    scan, for tests and small sets); it allows one client per path at a time.
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        *,
        url: str | None = None,
        path: str | None = None,
        api_key: str | None = None,
        collection: str | None = None,
        timeout: float = 2.0,
        client: Any = None,
    ) -> None:
        self._qdrant = _library("qdrant_client", "QdrantStore", "qdrant")
        super().__init__(dim, metric)
        if url is not None and path is not None:
            raise ValueError("give QdrantStore a url (a server) or a path (local mode), not both")
        from ..stores import resolve_secret

        self._url, self._path, self._timeout = url, path, timeout
        self._api_key = resolve_secret(api_key, "api_key")  # os.environ/NAME: read from the environment
        self._given = client
        self._serialize = url is None and client is None  # local mode is not safe for threads
        self._collection = collection or f"dejacache_{self._metric}_{self._dim}"
        self._client: Any = None
        from qdrant_client import models

        self._models = models
        self._connect_or_warn("Qdrant")

    @classmethod
    def from_url(cls, url: str, dim: int, metric: str = "cosine", **options: Any) -> QdrantStore:
        """``qdrant://host:port`` (a server over HTTP; ``qdrants://`` over HTTPS), or local mode
        on disk: ``qdrant:///relative/path`` or ``qdrant:////absolute/path``."""
        scheme, netloc, path = url_parts(url, ("qdrant", "qdrants"))
        if netloc:
            return cls(dim, metric, url=f"{'https' if scheme == 'qdrants' else 'http'}://{netloc}", **options)
        return cls(dim, metric, path=path, **options)

    def __repr__(self) -> str:
        where = redact(self._url) if self._url else self._path or ("client" if self._given is not None else ":memory:")
        return f"QdrantStore(dim={self._dim}, metric={self._metric!r}, at={where!r}, collection={self._collection!r})"

    def _connect(self) -> None:
        qc, models = self._qdrant, self._models
        if self._given is not None:
            client = self._given
        elif self._url is not None:
            client = qc.QdrantClient(
                url=self._url, api_key=self._api_key, timeout=max(1, round(self._timeout)), check_compatibility=False
            )
        else:
            client = qc.QdrantClient(path=self._path) if self._path is not None else qc.QdrantClient(":memory:")
        distance = getattr(models.Distance, _DISTANCES[self._metric])
        if client.collection_exists(self._collection):
            params = client.get_collection(self._collection).config.params.vectors
            if params.size != self._dim or params.distance != distance:
                raise ValueError(
                    f"Qdrant collection {self._collection!r} holds {params.size}-dimensional vectors with "
                    f"{params.distance} distance, not {self._dim} / {distance}: pass another collection="
                )
        else:
            client.create_collection(
                self._collection, vectors_config=models.VectorParams(size=self._dim, distance=distance)
            )
            if self._url is not None:  # local mode has no payload indexes (it scans)
                client.create_payload_index(self._collection, "ns", models.PayloadSchemaType.KEYWORD)
        self._client = client

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None and client is not self._given:
            client.close()

    def _filter(self, namespace: str) -> Any:
        m = self._models
        return m.Filter(must=[m.FieldCondition(key="ns", match=m.MatchValue(value=namespace))])

    @staticmethod
    def _point_id(namespace: str, id: int) -> str:
        return str(uuid.UUID(bytes=row_key(namespace, id)))

    def _upsert(self, namespace: str, ids: np.ndarray, vectors: np.ndarray, payloads: list[str | None]) -> None:
        points = [
            self._models.PointStruct(
                id=self._point_id(namespace, i), vector=v, payload={"ns": namespace, "vid": s, "p": p}
            )
            for i, s, v, p in zip(ids.tolist(), as_i64(ids), vectors.tolist(), payloads)
        ]
        self._client.upsert(self._collection, points=points, wait=True)

    def _present(self, namespace: str, ids: np.ndarray) -> np.ndarray:
        keys = [self._point_id(namespace, i) for i in ids.tolist()]
        found = {str(r.id) for r in self._client.retrieve(self._collection, ids=keys, with_payload=False)}
        return np.array([k in found for k in keys], bool)

    def _delete(self, namespace: str, ids: np.ndarray) -> None:
        keys: list[Any] = [self._point_id(namespace, i) for i in ids.tolist()]
        self._client.delete(self._collection, points_selector=self._models.PointIdsList(points=keys), wait=True)

    def _query(self, namespace: str, queries: np.ndarray, k: int) -> list[list[Row]]:
        m = self._models
        flt = self._filter(namespace)
        requests = [m.QueryRequest(query=q, filter=flt, limit=k, with_payload=["vid", "p"]) for q in queries.tolist()]
        out = []
        for response in self._client.query_batch_points(self._collection, requests=requests):
            points = response.points
            vids = as_u64([p.payload["vid"] for p in points]).tolist()
            sims = [p.score * p.score if self._metric == "l2" else p.score for p in points]
            out.append(list(zip(vids, sims, [p.payload.get("p") for p in points])))
        return out

    def _count(self, namespace: str | None) -> int:
        flt = None if namespace is None else self._filter(namespace)
        return int(self._client.count(self._collection, count_filter=flt, exact=True).count)

    def _namespaces(self) -> set[str]:
        names: set[str] = set()
        offset = None
        while True:  # a scroll, not facet(): a server facets only an indexed field, an old one not at all
            points, offset = self._client.scroll(
                self._collection, limit=1000, offset=offset, with_payload=["ns"], with_vectors=False
            )
            names.update(p.payload["ns"] for p in points)
            if offset is None:
                return names

    def _export(self, namespace: str) -> Iterator[tuple[np.ndarray, np.ndarray, list[str | None]]]:
        offset = None
        while True:
            points, offset = self._client.scroll(
                self._collection,
                scroll_filter=self._filter(namespace),
                limit=1000,
                offset=offset,
                with_payload=["vid", "p"],
                with_vectors=True,
            )
            if points:
                ids = as_u64([p.payload["vid"] for p in points])
                yield ids, np.asarray([p.vector for p in points], np.float32), [p.payload.get("p") for p in points]
            if offset is None:
                return
