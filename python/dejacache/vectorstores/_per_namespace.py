"""``PerNamespaceStore``: the base of the adapters over a peer library's index (hnswlib,
usearch, faiss): one library index per namespace, the live ids kept here, one on-disk layout."""

from __future__ import annotations

import abc
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ._base import _FORMAT, _META, VectorStore, _read_meta, _replace_dir


class PerNamespaceStore(VectorStore):
    """A peer library's index per namespace, with the live ids of each kept here.

    The peer libraries do not all report membership after removal, so this class keeps the
    live ids itself; it also owns the on-disk layout shared by the adapters: a directory with
    ``store.json`` and, per namespace, the library's own index file plus the live ids.
    """

    _LIBRARY_FILE = "index.bin"

    def __init__(self, dim: int, metric: str = "cosine") -> None:
        super().__init__(dim, metric)
        self._indexes: dict[str, Any] = {}
        self._live: dict[str, set[int]] = {}
        # The libraries release the GIL and are not safe against a search running beside a
        # write (faiss compacts rows under a reader; usearch's replace is check-then-add), so
        # every call into them, and the live sets beside them, go one at a time.
        self._lock = threading.RLock()

    # Subclasses implement these five on one library index.
    @abc.abstractmethod
    def _new_index(self) -> Any: ...

    @abc.abstractmethod
    def _index_add(self, index: Any, ids: np.ndarray, vectors: np.ndarray, replaced: np.ndarray) -> Any:
        """Adds rows; ``replaced`` marks ids already live. Returns the index (it may be new)."""

    @abc.abstractmethod
    def _index_remove(self, index: Any, ids: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _index_search(
        self, index: Any, live: int, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray
    ) -> None: ...

    @abc.abstractmethod
    def _index_save(self, index: Any, path: Path) -> None: ...

    @abc.abstractmethod
    def _index_load(self, path: Path, count: int) -> Any: ...

    def _options(self) -> dict[str, Any]:
        """Constructor keyword arguments besides dim and metric, saved with the store."""
        return {}

    def _add(self, namespace: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            index = self._indexes.get(namespace)
            if index is None:
                index = self._new_index()
            live = self._live.setdefault(namespace, set())
            id_list = ids.tolist()
            replaced = np.fromiter((i in live for i in id_list), bool, len(id_list))
            self._indexes[namespace] = self._index_add(index, ids, vectors, replaced)
            live.update(id_list)

    def _remove(self, namespace: str, ids: np.ndarray) -> int:
        with self._lock:
            live = self._live.get(namespace)
            if not live:
                return 0
            present = np.array([i for i in ids.tolist() if i in live], np.uint64)
            if len(present):
                self._index_remove(self._indexes[namespace], present)
                live.difference_update(present.tolist())
            if not live:
                del self._live[namespace], self._indexes[namespace]
            return len(present)

    def _search(self, namespace: str, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray) -> None:
        with self._lock:
            index, live = self._indexes.get(namespace), self._live.get(namespace)
            if index is not None and live:
                self._index_search(index, len(live), queries, k, ids, scores)

    def _contains(self, namespace: str, id: int) -> bool:
        return id in self._live.get(namespace, ())

    def count(self, namespace: str = "default") -> int:
        return len(self._live.get(namespace, ()))

    def namespaces(self) -> list[str]:
        with self._lock:
            return sorted(self._live)

    def save(self, path: str | os.PathLike[str]) -> None:
        with self._lock:  # a consistent snapshot: no write lands halfway through
            self._save(Path(path))

    def _save(self, path: Path) -> None:
        with _replace_dir(path) as tmp:
            names = self.namespaces()
            for i, namespace in enumerate(names):
                folder = tmp / f"ns{i}"
                folder.mkdir()
                self._index_save(self._indexes[namespace], folder / self._LIBRARY_FILE)
                np.save(folder / "ids.npy", np.fromiter(self._live[namespace], np.uint64))
            meta = {
                "format": _FORMAT,
                "store": type(self).__name__,
                "dim": self._dim,
                "metric": self._metric,
                "options": self._options(),
                "namespaces": names,
            }
            (tmp / _META).write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PerNamespaceStore:
        path = Path(path)
        meta = _read_meta(path, cls)
        store = cls(meta["dim"], meta["metric"], **meta["options"])
        for i, namespace in enumerate(meta["namespaces"]):
            folder = path / f"ns{i}"
            live = np.load(folder / "ids.npy")
            store._indexes[namespace] = store._index_load(folder / cls._LIBRARY_FILE, len(live))
            store._live[namespace] = set(live.tolist())
        return store
