"""The default vector store: dejacache's own Rust index (``dejacache.VectorIndex``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._core import VectorIndex
from ._base import EMPTY_ID, VectorStore, _check_namespace


class BuiltinStore(VectorStore):
    """The built-in index behind the ``VectorStore`` interface; namespaces live inside it.

    ``kind`` ("auto", "flat", "hnsw"), ``dtype`` ("f32", "f16", "i8") and the HNSW parameters
    are those of ``dejacache.VectorIndex``; ``save`` writes its single checksummed file.
    ``BuiltinStore.from_index(index)`` puts an existing ``VectorIndex`` behind the interface.
    """

    ordered_results = True  # the index lists every row best first
    #: vectors of one ``add_many`` from which the graph is built on several threads
    parallel_add_from = 1024

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

    @classmethod
    def from_index(cls, index: Any) -> BuiltinStore:
        """The store over ``index``: a ``VectorIndex``, or an object with its methods (the semantic
        tier's journaled index beside a file store). Vectors stay where they are, shared with it.

        >>> from dejacache import VectorIndex
        >>> BuiltinStore.from_index(VectorIndex(8)).dim
        8
        """
        store: Any = cls.__new__(cls)
        VectorStore.__init__(store, index.dim, index.metric)
        store._index = index
        return store

    @property
    def index(self) -> VectorIndex:
        """The underlying ``VectorIndex``, for its extra options (``ef``, ``threads``, ``mmap``)."""
        return self._index

    def _add(self, namespace: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add(ids, vectors, namespace)

    def add(self, ids: Any, vectors: Any, namespace: str = "default") -> None:
        # The semantic tier's put adds one float32 row: it goes straight to the index, which
        # checks its shape and values with the words of VectorStore's checks (the generic
        # path's de-duplication and conversions cost several times the insert of a small index).
        if type(ids) is np.ndarray and ids.dtype == np.uint64 and ids.shape == (1,) and ids[0] != EMPTY_ID:
            if type(vectors) is np.ndarray and vectors.dtype == np.float32 and type(namespace) is str and namespace:
                self._index.add(ids, vectors, namespace)
                return
        super().add(ids, vectors, namespace)

    def add_many(self, ids: Any, vectors: Any, namespace: str = "default") -> None:
        """``add``; from ``parallel_add_from`` distinct ids on, the graph is built on up to 8 threads."""
        checked = self._ids(ids)
        if len(checked) < self.parallel_add_from or len(np.unique(checked)) != len(checked):
            self.add(ids, vectors, namespace)
            return
        rows = self._vectors(vectors, "vectors")
        if len(rows) != len(checked):
            raise ValueError(f"got {len(checked)} ids for {len(rows)} vectors: pass one id per vector")
        self._index.add(checked, rows, _check_namespace(namespace), threads=min(os.cpu_count() or 1, 8))

    def search(self, queries: Any, k: int = 10, namespace: str = "default") -> tuple[np.ndarray, np.ndarray]:
        # The semantic tier's hit path: the index checks a float32 array's shape, values and k
        # itself, with the words of VectorStore's checks, so it goes straight in (the checks in
        # Python cost several times the search of a small namespace); other input is converted.
        if type(queries) is np.ndarray and queries.dtype == np.float32 and type(k) is int and type(namespace) is str:
            if namespace:
                return self._index.search(queries, k, namespace=namespace)
        return super().search(queries, k, namespace)

    def remove(self, ids: Any, namespace: str = "default") -> int:
        # The semantic tier removes one id per call when an entry is replaced or deleted: it goes
        # straight to the index (the generic path's de-duplication costs more than the removal).
        if type(ids) is np.ndarray and ids.dtype == np.uint64 and ids.shape == (1,) and ids[0] != EMPTY_ID:
            if type(namespace) is str and namespace:
                return self._index.remove(ids, namespace)
        return super().remove(ids, namespace)

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
        return cls.from_index(VectorIndex.load(path, mmap=mmap))
