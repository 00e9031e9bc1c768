"""The semantic tier's writes: a vector per stored entry, dropped when its entry goes.

The tier files each entry (``(scope, id) -> Entry``, and ``(namespace, key) -> scope``) before
its vector goes into the store, so a search that finds the vector finds its entry; a vector
whose entry changed meanwhile (a concurrent store) is never dropped for a stale one. A bulk
store (``store_many``) takes the tier's lock per chunk of ``STORE_CHUNK`` and hands each scope's
vectors to the store's ``add_many`` at once (the built-in index builds its graph on threads).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..vectorstores._base import VectorStore
from .entries import Entry, Probe, payload_of, vector_id

log = logging.getLogger("dejacache")

#: vectors beyond twice the entries (plus this) start a sweep of those whose entry is gone
_SWEEP_MIN = 1024
#: entries a bulk store handles per hold of the tier's lock
STORE_CHUNK = 2048


class TierWrites:
    """``SemanticTier``'s writes (a mixin: the tier sets the attributes)."""

    index: VectorStore
    _store: Any
    _clock: Callable[[], float]
    _entries: dict[tuple[str, int], Entry]
    _scopes: dict[tuple[str, str], str]
    _lock: threading.RLock
    _shared: bool

    def _add(self, ids: np.ndarray, rows: np.ndarray, scope: str, entries: Sequence[Entry], bulk: bool = False) -> None:
        """Adds vectors to the index; a shared store gets each entry's payload beside its vector.
        ``bulk``: many at once (``add_many``: a store may build its index on several threads)."""
        if self._shared:
            self.index.add(ids, rows, namespace=scope, payloads=[payload_of(e) for e in entries])  # type: ignore[call-arg]
        elif bulk:
            self.index.add_many(ids, rows, namespace=scope)
        else:
            self.index.add(ids, rows, namespace=scope)

    def store(self, probe: Probe, key: str) -> None:
        """Adds the vector of an entry just written to the exact store under ``key``."""
        with self._lock:
            scope, vid, entry = self._register(probe, key)
            try:
                self._add(np.asarray([vid], dtype=np.uint64), probe.vector[None, :], scope, [entry])
            except BaseException:
                self._unregister(scope, vid, entry)
                raise
            if len(self._entries) > 2 * len(self._store) + _SWEEP_MIN:
                self.sweep()

    def _register(self, probe: Probe, key: str) -> tuple[str, int, Entry]:
        """Files the entry of ``key`` under its probe's scope, dropping the vector it had
        before (caller holds the lock and adds the vector next)."""
        ns, scope, vid = probe.namespace, probe.scope, vector_id(key)
        old_scope = self._scopes.get((ns, key))
        if old_scope is not None:
            self._remove_vector(old_scope, vid)
        if (scope, vid) in self._entries:
            self._remove_vector(scope, vid)
        # The entry goes in before the vector: a search that finds the vector must find
        # its entry, or it would take the vector for a stale one.
        entry = Entry(ns, key, probe.ext.text, probe.ext.embed)
        self._entries[(scope, vid)] = entry
        self._scopes[(ns, key)] = scope
        return scope, vid, entry

    def _unregister(self, scope: str, vid: int, entry: Entry) -> None:
        """Undoes :meth:`_register` when the vector could not be added."""
        del self._entries[(scope, vid)]
        del self._scopes[(entry.namespace, entry.key)]

    def store_many(self, items: Sequence[tuple[Probe, str]]) -> None:
        """:meth:`store` for many ``(probe, key)`` pairs of distinct entries: one ``add`` per
        scope and chunk. The tier's lock is taken per chunk of STORE_CHUNK, so a bulk load
        never holds up other threads' stores for more than one chunk's insert."""
        failed: BaseException | None = None
        for start in range(0, len(items), STORE_CHUNK):
            try:
                self._store_chunk(items[start : start + STORE_CHUNK])
            except Exception as exc:  # noqa: BLE001 - later chunks still get their vectors
                failed = failed or exc
        if failed is not None:
            raise failed

    def _store_chunk(self, items: Sequence[tuple[Probe, str]]) -> None:
        if not items:
            return
        vectors = np.stack([p.vector for p, _ in items])
        # One row the index refuses (NaN, or zero length under cosine) would fail its whole
        # scope's add: leave such rows out here, as put() would lose only that one.
        usable = np.isfinite(vectors).all(axis=1) & (np.einsum("ij,ij->i", vectors, vectors) > 0)
        if not usable.all():
            log.warning(
                "dejacache: %d vectors not stored: the embedder returned NaN, infinite or zero rows",
                int((~usable).sum()),
            )
        by_scope: dict[str, list[tuple[int, Entry, int]]] = {}  # scope -> (vid, entry, row of vectors)
        failed: BaseException | None = None
        with self._lock:
            for row, ((probe, key), ok) in enumerate(zip(items, usable.tolist())):
                if ok:
                    scope, vid, entry = self._register(probe, key)
                    by_scope.setdefault(scope, []).append((vid, entry, row))
            for scope, filed in by_scope.items():
                ids = np.asarray([f[0] for f in filed], dtype=np.uint64)
                rows = vectors[[f[2] for f in filed]]
                try:
                    self._add(ids, rows, scope, [f[1] for f in filed], bulk=True)
                except Exception as exc:  # noqa: BLE001 - the other scopes still get theirs
                    failed = failed or exc
                    for vid, entry, _ in filed:
                        self._unregister(scope, vid, entry)
            if len(self._entries) > 2 * len(self._store) + _SWEEP_MIN:
                self.sweep()
        if failed is not None:
            raise failed

    def _remove_vector(self, scope: str, vid: int) -> None:
        entry = self._entries.pop((scope, vid), None)
        if entry is not None and self._scopes.get((entry.namespace, entry.key)) == scope:
            del self._scopes[(entry.namespace, entry.key)]
        self.index.remove(np.asarray([vid], dtype=np.uint64), namespace=scope)

    def _drop(self, scope: str, seen: list[tuple[int, Entry | None]]) -> None:
        """Removes vectors found stale, unless their entry changed since (a concurrent store)."""
        with self._lock:
            gone = []
            for vid, entry in seen:
                if self._entries.get((scope, vid)) is not entry:
                    continue
                if entry is not None:
                    del self._entries[(scope, vid)]
                    if self._scopes.get((entry.namespace, entry.key)) == scope:
                        del self._scopes[(entry.namespace, entry.key)]
                gone.append(vid)
            if gone:
                self.index.remove(np.asarray(gone, dtype=np.uint64), namespace=scope)

    def _drop_shared(self, scope: str, vids: list[int]) -> None:
        """Removes vectors of a shared store whose entry (stored by another process) is gone,
        unless this process has since filed an entry under the same id."""
        with self._lock:
            gone = [vid for vid in vids if (scope, vid) not in self._entries]
            if gone:
                self.index.remove(np.asarray(gone, dtype=np.uint64), namespace=scope)

    def forget(self, namespace: str, key: str) -> None:
        """Removes the vector of the entry ``key`` (after a delete)."""
        with self._lock:
            scope = self._scopes.get((namespace, key))
            if scope is not None:
                self._remove_vector(scope, vector_id(key))

    def clear(self, namespace: str | None = None) -> None:
        """Removes every vector of ``namespace`` (all namespaces when None)."""
        with self._lock:
            by_scope: dict[str, list[tuple[int, Entry | None]]] = {}
            for (scope, vid), entry in self._entries.items():
                if namespace is None or entry.namespace == namespace:
                    by_scope.setdefault(scope, []).append((vid, entry))
            for scope, seen in by_scope.items():
                self._drop(scope, seen)

    def sweep(self) -> int:
        """Drops vectors whose exact entry is gone; returns how many."""
        now = self._clock()
        with self._lock:
            by_scope: dict[str, list[tuple[int, Entry | None]]] = {}
            for (scope, vid), entry in list(self._entries.items()):
                if not self._store.contains(entry.key, entry.namespace, now):
                    by_scope.setdefault(scope, []).append((vid, entry))
            for scope, seen in by_scope.items():
                self._drop(scope, seen)
        return sum(len(v) for v in by_scope.values())

    def __len__(self) -> int:
        return len(self._entries)
