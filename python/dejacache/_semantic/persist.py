"""The semantic tier's built-in index kept on disk beside a file store, so hits survive a restart.

With ``Cache(semantic=True, store="sqlite:///c.db")`` the tier's vectors and the entries they
point at (scope, id, namespace, key, texts) live in ``c.db.vectors/``:

- ``index.<g>``: a ``VectorIndex.save`` snapshot, loaded with ``mmap=True`` (served from the
  page cache, not rebuilt: 100k entries reopen in well under the 2 s budget, see
  ``benches/bench_reopen.py``);
- ``entries.<g>``: the entries of that snapshot (orjson);
- ``journal.<g>``, ``journal.<g+1>``, ...: every add and remove since, one record each, written
  (``write(2)``, and ``fsync`` when the store is ``synchronous="FULL"``) before the call that
  made it returns. A record is ``length u32, crc32 u32, body``; a torn or damaged tail (a
  process killed mid-write) is cut off at open.
- ``manifest.json``: the generation ``g`` of the current snapshot, and the embedder it belongs to.

Why it is crash-safe: an entry is written to the exact store first, then its vector goes into
the index and its record into the journal, and only then does the put return; so every
acknowledged entry has its record (kill -9 loses nothing written). A record whose entry is gone
from the store (a delete or eviction whose own record never made it, or a put killed between
the two writes) is dropped at open, when the entries are checked against ``store.keys``: no
vector then points at a missing entry. A vector is never rebuilt from the store (the store holds
answers, not the requests embedded).

A new snapshot is written on a background thread once the journal holds ``COMPACT_AFTER`` records
(so an open replays at most that many graph inserts): the journal is rotated under the tier's lock, the
entries copied, and the index saved beside the old one; the manifest then names it (a rename),
and only then are the old files removed. A crash at any point leaves a manifest whose snapshot
and journals (every journal from its generation on) replay to the state the puts acknowledged.

One process writes the folder at a time (an ``flock`` on ``lock``); another process opening the
same store reads it at open and keeps its own new vectors in memory only (a warning says so).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import weakref
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .._core import VectorIndex

log = logging.getLogger("dejacache")

_FORMAT = 1
_HEAD = struct.Struct("<II")  # body length, crc32 of the body
_ADD, _REMOVE = 0, 1
_EMPTY = 2**64 - 1
#: journal records after which a new snapshot is written: what an open replays (graph inserts,
#: ~0.3-1 ms each at 384-d) stays well inside the reopen budget, whatever the size
COMPACT_AFTER = 1024
#: ... but snapshots take at most this share of the time (a bulk load lets the journal grow,
#: and the open after it replays more, once: it then writes a snapshot)
SNAPSHOT_SHARE = 0.1


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


#: every index with its folder open, so a forked child can let go of them (see _after_fork)
_OPEN: weakref.WeakSet = weakref.WeakSet()


def _after_fork() -> None:
    """In a forked child (a pre-forking server), the parent still writes the folder: the child
    keeps what it read and stores its new vectors in memory only, as a second process would."""
    for index in list(_OPEN):
        file, lock_file = index._file, index._lock_file
        index._file, index._lock_file, index.writable = None, None, False
        for f in (file, lock_file):
            if f is not None:
                try:
                    f.close()  # this process's descriptors only: the parent keeps its lock
                except OSError:
                    pass
        index._drain_lock = threading.Lock()
        index._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


class PersistentIndex:
    """The tier's ``VectorIndex`` with every add and remove journaled (see the module docstring);
    the tier sees it as a ``vectorstores.BuiltinStore`` over it.

    ``entries`` is the tier's own ``(scope, id) -> entry`` map, read when a vector is added to
    journal what it points at; the tier files an entry before adding its vector.
    """

    def __init__(self, folder: Path, index: VectorIndex, identity: dict[str, Any], sync: bool, writable: bool):
        self.folder, self.index, self._identity, self._sync, self.writable = folder, index, identity, sync, writable
        self.search = index.search  # replaced by _search_both while a delta is drained
        # The journal's adds replayed at open sit in a flat index (a copy, no graph work) until a
        # background thread has moved them into the graph: an open never waits for graph inserts.
        self.delta: VectorIndex | None = None
        self._pending: dict[tuple[str, int], np.ndarray] = {}
        self._drain_lock = threading.Lock()
        self._draining: threading.Thread | None = None
        self.entries: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()
        self._file: Any = None  # the journal (unbuffered; closed with this object)
        self._generation = 0
        self._journaled = 0  # records since the last snapshot
        self._compacting: threading.Thread | None = None
        self._snapshot_cost, self._snapshot_end = 0.0, time.monotonic()
        self._lock_file: Any = None
        self.compactions = 0
        _OPEN.add(self)

    # -- the VectorIndex surface the tier uses ------------------------------------------------

    @property
    def dim(self) -> int:
        return self.index.dim

    @property
    def metric(self) -> str:
        return self.index.metric

    def count(self, namespace: str | None = None) -> int:
        # (while the delta is moved into the graph, an id being moved may count twice)
        delta = self.delta
        return self.index.count(namespace) + (delta.count(namespace) if delta is not None else 0)

    def namespaces(self) -> list[str]:
        delta = self.delta
        return sorted(set(self.index.namespaces()) | set(delta.namespaces() if delta is not None else ()))

    def contains(self, id: int, namespace: str | None = None) -> bool:
        delta = self.delta
        return self.index.contains(id, namespace) or (delta is not None and delta.contains(id, namespace))

    def __len__(self) -> int:
        delta = self.delta
        return len(self.index) + (len(delta) if delta is not None else 0)

    def _search_both(
        self, queries: Any, k: int = 10, ef: int | None = None, namespace: str | None = None, threads: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The graph's and the delta's neighbours merged, best first. The delta is searched
        first: a vector moves by an add to the graph and then a remove from the delta, so one
        the delta no longer holds is already in the graph when that is searched (and one in
        both for a moment is returned once)."""
        delta = self.delta
        if delta is None:
            return self.index.search(queries, k, ef, namespace, threads)
        ids2, sims2 = delta.search(queries, k, namespace=namespace)
        ids, sims = self.index.search(queries, k, ef, namespace, threads)
        shape = ids.shape
        all_ids = np.concatenate([ids.reshape(-1, k), ids2.reshape(-1, k)], axis=1)
        all_sims = np.concatenate([sims.reshape(-1, k), sims2.reshape(-1, k)], axis=1)
        out_ids = np.full((len(all_ids), k), _EMPTY, np.uint64)
        out_sims = np.full((len(all_ids), k), np.nan, np.float32)
        for row in range(len(all_ids)):
            seen: set[int] = set()
            j = 0
            for col in np.argsort(np.where(np.isnan(all_sims[row]), np.inf, -all_sims[row]), kind="stable"):
                vid = int(all_ids[row, col])
                if vid == _EMPTY or vid in seen:
                    continue
                seen.add(vid)
                out_ids[row, j], out_sims[row, j] = vid, all_sims[row, col]
                j += 1
                if j == k:
                    break
        return out_ids.reshape(shape), out_sims.reshape(shape)

    def _forget_pending(self, ids: np.ndarray, namespace: str | None) -> int:
        """Takes ids out of the delta (they are being replaced or removed); how many were there."""
        if not self._pending and self.delta is None:
            return 0
        with self._drain_lock:
            scope = namespace or "default"
            for vid in ids.tolist():
                self._pending.pop((scope, vid), None)
            delta = self.delta
            return 0 if delta is None else delta.remove(ids, namespace)

    def _drain(self) -> None:
        """Moves the delta into the graph, a few vectors per hold of the lock, then writes a
        snapshot (the next open maps them instead of replaying them)."""
        try:
            while True:
                with self._drain_lock:
                    delta = self.delta
                    if delta is None:
                        return
                    if not self._pending:
                        self.delta, self.search = None, self.index.search
                        break
                    chunk: dict[str, list[tuple[int, np.ndarray]]] = {}
                    for _ in range(min(64, len(self._pending))):
                        (scope, vid), row = self._pending.popitem()
                        chunk.setdefault(scope, []).append((vid, row))
                    for scope, items in chunk.items():
                        ids = np.fromiter((vid for vid, _ in items), np.uint64, len(items))
                        self.index.add(ids, np.stack([row for _, row in items]), scope)
                        delta.remove(ids, scope)
        except Exception as exc:  # noqa: BLE001 - the delta keeps serving what was not moved
            log.warning("dejacache: semantic vectors not moved into the graph: %r", exc)
            return
        self.compact(wait=False)

    def add(self, ids: Any, vectors: Any, namespace: str | None = None, threads: int | None = None) -> None:
        self._forget_pending(np.asarray(ids, np.uint64).reshape(-1), namespace)
        self.index.add(ids, vectors, namespace, threads)
        if self._file is None:
            return
        scope = namespace or "default"
        rows = np.ascontiguousarray(vectors, np.float32)
        out = []
        for row, vid in enumerate(np.asarray(ids, np.uint64).reshape(-1).tolist()):
            entry = self.entries.get((scope, vid))
            if entry is None:
                continue
            embed = None if entry.embed_text is entry.text else entry.embed_text
            head = _dumps([_ADD, scope, vid, entry.namespace, entry.key, entry.text, embed])
            out.append(b"A" + struct.pack("<I", len(head)) + head + rows[row].tobytes())
        try:
            self._append(out)
        except BaseException:
            self.index.remove(ids, namespace)  # not journaled: not added (the tier undoes its entries)
            raise

    def remove(self, ids: Any, namespace: str | None = None) -> int:
        vids = np.asarray(ids, np.uint64).reshape(-1)
        if self._file is not None and len(vids):
            self._append([b"R" + _dumps([_REMOVE, namespace or "default", vids.tolist()])])
        return self._forget_pending(vids, namespace) + self.index.remove(vids, namespace)

    # -- the journal -----------------------------------------------------------------------

    def _append(self, bodies: list[bytes]) -> None:
        if not bodies:
            return
        data = b"".join(_HEAD.pack(len(b), zlib.crc32(b)) + b for b in bodies)
        with self._lock:
            f = self._file
            if f is None:
                return
            view = memoryview(data)
            while view:
                view = view[f.write(view) :]
            if self._sync:
                os.fsync(f.fileno())
            self._journaled += len(bodies)
            due = (
                self._journaled >= COMPACT_AFTER
                and time.monotonic() - self._snapshot_end >= self._snapshot_cost / SNAPSHOT_SHARE
            )
        if due:
            self.compact(wait=False)

    def _open_journal(self, generation: int) -> None:
        self._file = open(self.folder / f"journal.{generation}", "ab", buffering=0)  # noqa: SIM115

    # -- snapshots -------------------------------------------------------------------------

    def compact(self, wait: bool = True) -> None:
        """Writes a new snapshot (on a background thread unless ``wait``) and drops the journals
        it replaces. The caller may hold the tier's lock: only the rotation happens inline."""
        if wait and self._draining is not None:
            self._draining.join()  # it writes a snapshot when done; ours follows
        while wait and (running := self._compacting) is not None and running.is_alive():
            running.join()  # one snapshot at a time: let the one under way finish, then write ours
        with self._lock:
            if self._file is None or (self._compacting is not None and self._compacting.is_alive()):
                return
            if self.delta is not None:
                return  # the snapshot would miss the delta's vectors: the drain writes one when done
            old = self._generation
            self._generation = new = old + 1
            self._file.close()
            self._open_journal(new)  # records from now on go to the new generation's journal
            self._journaled = 0
            while True:  # entries never change once filed: a shallow copy (retried if the tier files one now)
                try:
                    entries = list(self.entries.items())
                    break
                except RuntimeError:
                    continue
            thread = threading.Thread(target=self._snapshot, args=(old, new, entries), daemon=True)
            self._compacting = thread
        thread.start()
        if wait:
            thread.join()

    def _snapshot(self, old: int, new: int, entries: list[tuple[tuple[str, int], Any]]) -> None:
        start = time.monotonic()
        try:
            rows = [
                [scope, vid, e.namespace, e.key, e.text, None if e.embed_text is e.text else e.embed_text]
                for (scope, vid), e in entries
            ]
            _write_atomic(self.folder / f"entries.{new}", _dumps(rows))
            # The index may already hold adds made after the rotation: the new journal replays
            # them again at open, which is harmless (an add replaces, a remove of a gone id is a no-op).
            self.index.save(self.folder / f"index.{new}")
            _write_atomic(self.folder / "manifest.json", _dumps({**self._identity, "generation": new}))
            _fsync_dir(self.folder)
            for name in (f"index.{old}", f"entries.{old}", f"journal.{old}"):
                (self.folder / name).unlink(missing_ok=True)
            self.compactions += 1
            self._snapshot_end = time.monotonic()
            self._snapshot_cost = self._snapshot_end - start
        except Exception as exc:  # noqa: BLE001 - the journals still hold everything; retried later
            log.warning("dejacache: semantic snapshot in %s not written: %r", self.folder, exc)

    def close(self) -> None:
        """Waits for a snapshot being written and closes the journal (a later add is not kept)."""
        if self._draining is not None:
            self._draining.join()
        thread = self._compacting
        if thread is not None:
            thread.join()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
