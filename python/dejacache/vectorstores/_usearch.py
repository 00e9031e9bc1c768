"""USearch behind the ``VectorStore`` interface (``pip install 'dejacache[usearch]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._base import _library
from ._per_namespace import PerNamespaceStore

_METRICS = {"cosine": "cos", "dot": "ip", "l2": "l2sq"}


#: Namespaces this small are searched by exact scan.
_EXACT_BELOW = 2048


class UsearchStore(PerNamespaceStore):
    """One ``usearch.index.Index`` per namespace (it grows by itself).

    Replacing an id removes it first: USearch's Python wrapper refuses duplicate keys. USearch
    reports ``1 - similarity`` for cosine and dot; this store turns it back.
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 64,
    ) -> None:
        self._usearch = _library("usearch.index", "UsearchStore", "usearch")
        super().__init__(dim, metric)
        self._connectivity = int(connectivity)
        self._expansion_add, self._expansion_search = int(expansion_add), int(expansion_search)

    def _options(self) -> dict[str, Any]:
        return {
            "connectivity": self._connectivity,
            "expansion_add": self._expansion_add,
            "expansion_search": self._expansion_search,
        }

    def _new_index(self) -> Any:
        return self._usearch.Index(
            ndim=self._dim,
            metric=_METRICS[self._metric],
            dtype="f32",
            connectivity=self._connectivity,
            expansion_add=self._expansion_add,
            expansion_search=self._expansion_search,
        )

    def _index_add(self, index: Any, ids: np.ndarray, vectors: np.ndarray, replaced: np.ndarray) -> Any:
        if replaced.any():
            index.remove(ids[replaced])
        index.add(ids, vectors)
        return index

    def _index_remove(self, index: Any, ids: np.ndarray) -> None:
        index.remove(ids)

    def _index_search(
        self, index: Any, live: int, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray
    ) -> None:
        kk = min(k, live)
        index.expansion_search = max(self._expansion_search, kk)
        # A small namespace, or a k near its size, is scanned exactly: usearch's graph walk can
        # miss nodes even with expansion >= k, and a scan of a few thousand rows is cheap.
        exact = live <= _EXACT_BELOW or kk * 4 >= live
        found = index.search(queries, kk, exact=exact)
        keys = np.asarray(found.keys).reshape(len(queries), -1)
        dist = np.asarray(found.distances, np.float32).reshape(len(queries), -1)
        counts = np.asarray(getattr(found, "counts", [len(keys[0])])).reshape(-1)
        filled = np.arange(keys.shape[1])[None, :] < counts[:, None]
        width = keys.shape[1]
        ids[:, :width] = np.where(filled, keys, ids[:, :width])
        values = dist if self._metric == "l2" else 1.0 - dist
        scores[:, :width] = np.where(filled, values, np.nan)

    def _index_save(self, index: Any, path: Path) -> None:
        index.save(str(path))

    def _index_load(self, path: Path, count: int) -> Any:
        index = self._new_index()
        index.load(str(path))
        return index
