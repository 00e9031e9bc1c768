"""faiss behind the ``VectorStore`` interface (``pip install 'dejacache[faiss]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._base import _library
from ._per_namespace import PerNamespaceStore


class FaissStore(PerNamespaceStore):
    """One exact ``faiss.IndexIDMap2`` over a flat index per namespace.

    faiss's graph indexes cannot remove vectors, so this adapter scans exactly. Cosine stores
    unit-normalised vectors under inner product. faiss ids are int64: uint64 ids are passed
    bit for bit, and faiss's empty-slot label -1 is exactly ``EMPTY_ID``.
    """

    def __init__(self, dim: int, metric: str = "cosine") -> None:
        self._faiss = _library("faiss", "FaissStore", "faiss")
        super().__init__(dim, metric)

    def _new_index(self) -> Any:
        flat = self._faiss.IndexFlatL2(self._dim) if self._metric == "l2" else self._faiss.IndexFlatIP(self._dim)
        return self._faiss.IndexIDMap2(flat)

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        if self._metric != "cosine":
            return vectors
        unit = vectors.copy()
        self._faiss.normalize_L2(unit)
        return unit

    def _index_add(self, index: Any, ids: np.ndarray, vectors: np.ndarray, replaced: np.ndarray) -> Any:
        if replaced.any():
            index.remove_ids(ids[replaced].view(np.int64))
        index.add_with_ids(self._prepare(vectors), ids.view(np.int64))
        return index

    def _index_remove(self, index: Any, ids: np.ndarray) -> None:
        index.remove_ids(ids.view(np.int64))

    def _index_search(
        self, index: Any, live: int, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray
    ) -> None:
        kk = min(k, live)
        dist, labels = index.search(self._prepare(queries), kk)
        ids[:, :kk] = labels.view(np.uint64)
        scores[:, :kk] = np.where(labels == -1, np.nan, dist)

    def _index_save(self, index: Any, path: Path) -> None:
        self._faiss.write_index(index, str(path))

    def _index_load(self, path: Path, count: int) -> Any:
        return self._faiss.read_index(str(path))
