"""The default vector store: dejacache's own Rust index (``dejacache.VectorIndex``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._core import VectorIndex
from ._base import VectorStore


class BuiltinStore(VectorStore):
    """The built-in index behind the ``VectorStore`` interface; namespaces live inside it.

    ``kind`` ("auto", "flat", "hnsw"), ``dtype`` ("f32", "f16", "i8") and the HNSW parameters
    are those of ``dejacache.VectorIndex``; ``save`` writes its single checksummed file.
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        kind: str = "auto",
        dtype: str = "f32",
        M: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
    ) -> None:
        super().__init__(dim, metric)
        self._index = VectorIndex(self._dim, self._metric, kind, dtype, M, ef_construction, ef_search)

    @property
    def index(self) -> VectorIndex:
        """The underlying ``VectorIndex``, for its extra options (``ef``, ``threads``, ``mmap``)."""
        return self._index

    def _add(self, namespace: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add(ids, vectors, namespace)

    def _remove(self, namespace: str, ids: np.ndarray) -> int:
        return self._index.remove(ids, namespace)

    def _search(self, namespace: str, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray) -> None:
        ids[:], scores[:] = self._index.search(queries, k, namespace=namespace)

    def _contains(self, namespace: str, id: int) -> bool:
        return self._index.contains(id, namespace)

    def count(self, namespace: str = "default") -> int:
        return self._index.count(namespace)

    def namespaces(self) -> list[str]:
        return self._index.namespaces()

    def __len__(self) -> int:
        return len(self._index)

    def save(self, path: str | os.PathLike[str]) -> None:
        self._index.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], mmap: bool = False) -> BuiltinStore:
        index = VectorIndex.load(path, mmap=mmap)
        store: Any = cls.__new__(cls)
        VectorStore.__init__(store, index.dim, index.metric)
        store._index = index
        return store
