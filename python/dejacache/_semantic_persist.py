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

import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ._core import VectorIndex

log = logging.getLogger("dejacache")

_FORMAT = 1
_HEAD = struct.Struct("<II")  # body length, crc32 of the body
_ADD, _REMOVE = 0, 1
#: journal records after which a new snapshot is written: what an open replays (graph inserts,
#: ~0.3-1 ms each at 384-d) stays well inside the reopen budget, whatever the size
COMPACT_AFTER = 1024
#: ... but snapshots take at most this share of the time (a bulk load lets the journal grow,
#: and the open after it replays more, once: it then writes a snapshot)
SNAPSHOT_SHARE = 0.1


def folder_of(store: Any) -> Path | None:
    """Where the vectors of ``store`` are kept: ``<file>.vectors`` beside a SQLite store's file;
    None for a store that is not a local file (the in-process store, a server)."""
    while not hasattr(store, "path") and hasattr(store, "store"):  # GuardedStore(SQLiteStore)
        store = store.store
    path = getattr(store, "path", None)
    if type(store).__name__ != "SQLiteStore" or not isinstance(path, str):
        return None
    return Path(path + ".vectors")


def _store_of(store: Any) -> Any:
    while not hasattr(store, "path") and hasattr(store, "store"):
        store = store.store
    return store


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


class PersistentIndex:
    """The tier's ``VectorIndex`` with every add and remove journaled (see the module docstring).

    ``entries`` is the tier's own ``(scope, id) -> entry`` map, read when a vector is added to
    journal what it points at; the tier files an entry before adding its vector.
    """

    builtin = True  # the tier may use VectorIndex's extras (threads=) and its best-first order

    def __init__(self, folder: Path, index: VectorIndex, identity: dict[str, Any], sync: bool, writable: bool):
        self.folder, self.index, self._identity, self._sync, self.writable = folder, index, identity, sync, writable
        self.search = index.search
        self.entries: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()
        self._file: Any = None  # the journal (unbuffered; closed with this object)
        self._generation = 0
        self._journaled = 0  # records since the last snapshot
        self._compacting: threading.Thread | None = None
        self._snapshot_cost, self._snapshot_end = 0.0, time.monotonic()
        self._lock_file: Any = None
        self.compactions = 0

    # -- the VectorIndex surface the tier uses ------------------------------------------------

    @property
    def dim(self) -> int:
        return self.index.dim

    @property
    def metric(self) -> str:
        return self.index.metric

    def count(self, namespace: str | None = None) -> int:
        return self.index.count(namespace)

    def namespaces(self) -> list[str]:
        return self.index.namespaces()

    def contains(self, id: int, namespace: str | None = None) -> bool:
        return self.index.contains(id, namespace)

    def __len__(self) -> int:
        return len(self.index)

    def add(self, ids: Any, vectors: Any, namespace: str | None = None, threads: int | None = None) -> None:
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
        return self.index.remove(vids, namespace)

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
        while wait and (running := self._compacting) is not None and running.is_alive():
            running.join()  # one snapshot at a time: let the one under way finish, then write ours
        with self._lock:
            if self._file is None or (self._compacting is not None and self._compacting.is_alive()):
                return
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


def open_persisted(
    store: Any, embedder: Any, normalize: bool, new_index: Callable[[], VectorIndex], make_entry: Callable
) -> tuple[PersistentIndex, dict[tuple[str, int], Any]] | None:
    """:func:`open_beside` for a semantic tier: the identity is the embedder (name, dimension)
    and whether texts are normalised; a folder that cannot be used is logged and skipped (the
    tier then keeps its vectors in memory, as without a file store)."""
    index = new_index()
    identity = {
        "embedder": str(getattr(embedder, "name", type(embedder).__name__)),
        "dim": int(embedder.dim),
        "normalize": bool(normalize),
        "M": index.M,
        "ef_search": index.ef_search,
    }
    try:
        return open_beside(store, identity, new_index, make_entry)
    except (OSError, ValueError) as exc:
        log.warning("dejacache: semantic vectors kept in memory only: %r", exc)
        return None


def _read_journal(path: Path) -> tuple[list[tuple[list, bytes]], int]:
    """The records of a journal and the length of its sound prefix (a torn tail is left out)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    records, pos = [], 0
    while pos + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, pos)
        body = data[pos + _HEAD.size : pos + _HEAD.size + length]
        if len(body) != length or zlib.crc32(body) != crc:
            break
        pos += _HEAD.size + length
        if body[:1] == b"R":
            records.append((orjson.loads(body[1:]), b""))
        elif body[:1] == b"A":
            (n,) = struct.unpack_from("<I", body, 1)
            records.append((orjson.loads(body[5 : 5 + n]), body[5 + n :]))
    return records, pos


def open_beside(
    store: Any,
    identity: dict[str, Any],
    new_index: Callable[[], VectorIndex],
    make_entry: Callable[[str, str, Any, Any], Any],
) -> tuple[PersistentIndex, dict[tuple[str, int], Any]] | None:
    """The persistent index of ``store`` (None when the store is not a local file) and the
    entries it holds, checked against the store. ``identity`` (embedder, dim, ...) must match
    what the folder was written with, else its vectors are set aside and the tier starts empty;
    ``make_entry(namespace, key, text, embed_text)`` builds the tier's entry objects."""
    folder = folder_of(store)
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    lock_file = open(folder / "lock", "a+b")  # noqa: SIM115 - held for the index's life
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        writable = True
    except OSError:
        writable = False
        log.warning(
            "dejacache: %s is in use by another process: this cache reads its vectors but keeps its new ones "
            "in memory only",
            folder,
        )
    identity = {"format": _FORMAT, **identity}
    try:
        manifest = orjson.loads((folder / "manifest.json").read_bytes())
    except FileNotFoundError:
        manifest = None
    except ValueError as exc:
        log.warning("dejacache: %s/manifest.json is damaged (%r): semantic vectors start empty", folder, exc)
        manifest = None
    generation = 0
    index: VectorIndex | None = None
    entries: dict[tuple[str, int], Any] = {}
    if manifest is not None and {k: manifest.get(k) for k in identity} != identity:
        log.warning(
            "dejacache: the vectors in %s were made by %s, not %s: semantic vectors start empty",
            folder,
            {k: manifest.get(k) for k in identity},
            identity,
        )
        manifest = None
        if writable:
            for p in folder.iterdir():
                if p.name != "lock":
                    p.unlink(missing_ok=True)
    if manifest is not None:
        generation = int(manifest["generation"])
    if manifest is not None and (folder / f"index.{generation}").exists():  # none before the first snapshot
        try:
            index = VectorIndex.load(folder / f"index.{generation}", mmap=True)
            rows = orjson.loads((folder / f"entries.{generation}").read_bytes())
            entries = {(r[0], r[1]): make_entry(r[2], r[3], r[4], r[4] if r[5] is None else r[5]) for r in rows}
        except (OSError, ValueError) as exc:
            log.warning("dejacache: semantic snapshot in %s unreadable (%r): starting from the journals", folder, exc)
            index, entries = None, {}
    if index is None:
        index = new_index()
    # Replay every journal from the snapshot's generation on (a crash during a snapshot leaves
    # the newer journal beside the older manifest), in order; cut a torn tail off.
    g, replayed = generation, 0
    while True:
        path = folder / f"journal.{g}"
        if not path.exists():
            break
        records, sound = _read_journal(path)
        if writable and sound != path.stat().st_size:
            log.warning("dejacache: cutting a torn record off %s (a process stopped mid-write)", path)
            with open(path, "r+b") as f:
                f.truncate(sound)
        _replay(index, entries, records, make_entry)
        replayed += len(records)
        g += 1
    last = max(g - 1, generation)
    sync = getattr(_store_of(store), "synchronous", "") == "FULL"
    persistent = PersistentIndex(folder, index, identity, sync=sync, writable=writable)
    persistent._lock_file = lock_file
    persistent._generation = last
    if writable:
        persistent._open_journal(last)
        if manifest is None:
            _write_atomic(folder / "manifest.json", _dumps({**identity, "generation": 0}))
    _check_against_store(_store_of(store), persistent, entries)
    persistent.entries = entries  # the tier's own map from now on
    if writable and replayed >= COMPACT_AFTER:
        persistent.compact(wait=False)  # the next open need not replay them again
    return persistent, entries


def _replay(index: VectorIndex, entries: dict, records: list[tuple[list, bytes]], make_entry: Callable) -> None:
    """Applies journal records in order; runs of adds to one scope go to the index together
    (the graph is then built on every core)."""
    dim = index.dim
    run: list[tuple[int, bytes]] = []  # (vid, vector bytes) of consecutive adds to run_scope
    run_ids: set[int] = set()
    run_scope = ""

    def flush() -> None:
        if run:
            ids = np.fromiter((vid for vid, _ in run), np.uint64, len(run))
            rows = np.frombuffer(b"".join(v for _, v in run), np.float32).reshape(len(run), dim)
            index.add(ids, rows, run_scope, min(os.cpu_count() or 1, 8) if len(run) >= 256 else None)
            run.clear()
            run_ids.clear()

    for rec, vector in records:
        if rec[0] == _ADD:
            _, scope, vid, ns, key, text, embed = rec
            if len(vector) != 4 * dim:
                continue
            if scope != run_scope or vid in run_ids:  # one add per id and call
                flush()
                run_scope = scope
            run.append((vid, vector))
            run_ids.add(vid)
            entries[(scope, vid)] = make_entry(ns, key, text, text if embed is None else embed)
        elif rec[0] == _REMOVE:
            flush()
            _, scope, vids = rec
            index.remove(np.asarray(vids, np.uint64), scope)
            for vid in vids:
                entries.pop((scope, vid), None)
    flush()


def _check_against_store(store: Any, index: PersistentIndex, entries: dict) -> None:
    """Drops the vectors whose entry the store no longer holds (one ``keys`` call per namespace),
    journaling the removes so that the next open need not drop them again."""
    live: dict[str, set[str]] = {}
    gone: dict[str, list[int]] = {}
    try:
        for (scope, vid), entry in entries.items():
            keys = live.get(entry.namespace)
            if keys is None:
                keys = live[entry.namespace] = set(store.keys(entry.namespace))
            if entry.key not in keys:
                gone.setdefault(scope, []).append(vid)
    except Exception as exc:  # noqa: BLE001 - unchecked now, stale vectors are dropped when met
        log.warning("dejacache: could not check semantic vectors against the store: %r", exc)
        return
    for scope, vids in gone.items():
        for vid in vids:
            del entries[(scope, vid)]
        index.remove(np.asarray(vids, np.uint64), scope)
