"""Chroma (embedded) behind the ``VectorStore`` interface (``pip install 'dejacache[chroma]'``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._base import _library
from ._database import DatabaseStore, Row, as_i64, as_u64, row_key, url_parts

_SPACES = {"cosine": "cosine", "dot": "ip", "l2": "l2"}


class ChromaStore(DatabaseStore):
    """One Chroma collection; each record's metadata holds its namespace (``ns``) and id
    (``vid``), and every request is filtered with ``where={"ns": namespace}``.

    >>> store = ChromaStore(384, path="vectors.chroma")  # on disk  # doctest: +SKIP
    >>> store = ChromaStore(384)                         # in memory, private to this store  # doctest: +SKIP

    Chroma reports distances (``1 - similarity`` for cosine and inner product, squared L2);
    this store turns them back into the scores every store reports. ``ef_search``: the HNSW
    beam, raised from Chroma's default so that the neighbours found are the exact ones.
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        *,
        path: str | None = None,
        collection: str | None = None,
        ef_search: int = 128,
        client: Any = None,
    ) -> None:
        self._chroma = _library("chromadb", "ChromaStore", "chroma")
        super().__init__(dim, metric)
        self._path, self._given, self._ef_search = path, client, int(ef_search)
        if path is None and client is None:
            # Ephemeral clients of one process share their collections: keep this one apart.
            collection = collection or f"dejacache-{uuid.uuid4().hex}"
        self._collection_name = collection or f"dejacache_{self._metric}_{self._dim}"
        self._client: Any = None
        self._col: Any = None
        with self._call():
            pass

    @classmethod
    def from_url(cls, url: str, dim: int, metric: str = "cosine", **options: Any) -> ChromaStore:
        """``chroma:///relative/path`` or ``chroma:////absolute/path``: Chroma embedded, on disk."""
        _, netloc, path = url_parts(url, ("chroma",))
        if netloc or not path:
            raise ValueError(f"a Chroma URL is chroma:///relative/path or chroma:////absolute/path, not {url!r}")
        return cls(dim, metric, path=path, **options)

    def __repr__(self) -> str:
        where = self._path or ("client" if self._given is not None else "memory")
        return (
            f"ChromaStore(dim={self._dim}, metric={self._metric!r}, at={where!r}, collection={self._collection_name!r})"
        )

    def _connect(self) -> None:
        chromadb = self._chroma
        if self._given is not None:
            client = self._given
        elif self._path is not None:
            client = chromadb.PersistentClient(path=self._path)
        else:
            client = chromadb.EphemeralClient()
        space = _SPACES[self._metric]
        col = client.get_or_create_collection(
            self._collection_name,
            configuration={"hnsw": {"space": space, "ef_search": self._ef_search, "ef_construction": 128}},
            metadata={"dejacache_dim": self._dim},
            embedding_function=None,
        )
        have = (col.configuration.get("hnsw") or {}).get("space"), (col.metadata or {}).get("dejacache_dim")
        if have != (space, self._dim):
            raise ValueError(
                f"Chroma collection {self._collection_name!r} holds {have[1]}-dimensional vectors in "
                f"{have[0]!r} space, not {self._dim} / {space!r}: pass another collection="
            )
        self._client, self._col = client, col

    def _disconnect(self) -> None:
        self._client = self._col = None

    @staticmethod
    def _key(namespace: str, id: int) -> str:
        return row_key(namespace, id).hex()

    def _upsert(self, namespace: str, ids: np.ndarray, vectors: np.ndarray, payloads: list[str | None]) -> None:
        metas: list[Any] = [
            {"ns": namespace, "vid": s} if p is None else {"ns": namespace, "vid": s, "p": p}
            for s, p in zip(as_i64(ids), payloads)
        ]
        self._col.upsert(ids=[self._key(namespace, i) for i in ids.tolist()], embeddings=vectors, metadatas=metas)

    def _present(self, namespace: str, ids: np.ndarray) -> np.ndarray:
        keys = [self._key(namespace, i) for i in ids.tolist()]
        found = set(self._col.get(ids=keys, include=[])["ids"])
        return np.array([k in found for k in keys], bool)

    def _delete(self, namespace: str, ids: np.ndarray) -> None:
        self._col.delete(ids=[self._key(namespace, i) for i in ids.tolist()])

    def _query(self, namespace: str, queries: np.ndarray, k: int) -> list[list[Row]]:
        found = self._col.query(
            query_embeddings=queries, n_results=k, where={"ns": namespace}, include=["metadatas", "distances"]
        )
        out = []
        for metas, dists in zip(found["metadatas"], found["distances"]):
            vids = as_u64([m["vid"] for m in metas]).tolist()
            values = dists if self._metric == "l2" else [1.0 - d for d in dists]
            out.append(list(zip(vids, values, [m.get("p") for m in metas])))
        return out

    def _count(self, namespace: str | None) -> int:
        if namespace is None:
            return int(self._col.count())
        return len(self._col.get(where={"ns": namespace}, include=[])["ids"])

    def _namespaces(self) -> set[str]:
        return {m["ns"] for m in self._col.get(include=["metadatas"])["metadatas"]}

    def _export(self, namespace: str) -> Iterator[tuple[np.ndarray, np.ndarray, list[str | None]]]:
        got = self._col.get(where={"ns": namespace}, include=["metadatas", "embeddings"])
        if len(got["ids"]):
            metas = got["metadatas"]
            yield (
                as_u64([m["vid"] for m in metas]),
                np.asarray(got["embeddings"], np.float32),
                [m.get("p") for m in metas],
            )
