"""hnswlib behind the ``VectorStore`` interface (``pip install 'dejacache[hnswlib]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._base import _library
from ._per_namespace import PerNamespaceStore

_SPACES = {"cosine": "cosine", "dot": "ip", "l2": "l2"}


class HnswlibStore(PerNamespaceStore):
    """One ``hnswlib.Index`` per namespace, resized (doubled) when full.

    Removal marks elements deleted (hnswlib keeps their slots); re-adding an id updates it in
    place. hnswlib reports ``1 - similarity`` for cosine and dot; this store turns it back.
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        M: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        initial_capacity: int = 1024,
    ) -> None:
        self._hnswlib = _library("hnswlib", "HnswlibStore", "hnswlib")
        super().__init__(dim, metric)
        self._M, self._ef_construction, self._ef_search = int(M), int(ef_construction), int(ef_search)
        self._initial_capacity = max(1, int(initial_capacity))

    def _options(self) -> dict[str, Any]:
        return {
            "M": self._M,
            "ef_construction": self._ef_construction,
            "ef_search": self._ef_search,
            "initial_capacity": self._initial_capacity,
        }

    def _new_index(self) -> Any:
        index = self._hnswlib.Index(space=_SPACES[self._metric], dim=self._dim)
        index.init_index(max_elements=self._initial_capacity, ef_construction=self._ef_construction, M=self._M)
        return index

    def _index_add(self, index: Any, ids: np.ndarray, vectors: np.ndarray, replaced: np.ndarray) -> Any:
        # A re-added removed id reuses its slot; counting it as new only over-reserves.
        needed = index.get_current_count() + int((~replaced).sum())
        if needed > index.get_max_elements():
            index.resize_index(max(needed, 2 * index.get_max_elements()))
        index.add_items(vectors, ids)
        return index

    def _index_remove(self, index: Any, ids: np.ndarray) -> None:
        for label in ids.tolist():
            index.mark_deleted(label)

    def _query(self, index: Any, queries: np.ndarray, k: int, ef: int) -> tuple[np.ndarray, np.ndarray] | None:
        index.set_ef(ef)
        try:
            return index.knn_query(queries, k=k)
        except RuntimeError:
            # hnswlib refuses a batch when the graph walk finds fewer than k live elements.
            return None

    def _index_search(
        self, index: Any, live: int, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray
    ) -> None:
        kk = min(k, live)
        found = self._query(index, queries, kk, max(self._ef_search, kk))
        if found is None:
            found = self._query(index, queries, kk, max(live, self._ef_search) + kk)
        if found is None:
            for row in range(len(queries)):
                for kq in range(kk - 1, 0, -1):
                    one = self._query(index, queries[row : row + 1], kq, live + kk)
                    if one is not None:
                        ids[row, :kq] = one[0][0]
                        scores[row, :kq] = self._scores(one[1][0])
                        break
            return
        ids[:, :kk] = found[0]
        scores[:, :kk] = self._scores(found[1])

    def _scores(self, distances: np.ndarray) -> np.ndarray:
        return distances if self._metric == "l2" else 1.0 - distances

    def _index_save(self, index: Any, path: Path) -> None:
        index.save_index(str(path))

    def _index_load(self, path: Path, count: int) -> Any:
        index = self._hnswlib.Index(space=_SPACES[self._metric], dim=self._dim)
        index.load_index(str(path))
        return index
