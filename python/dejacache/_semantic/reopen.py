"""Opening the semantic tier's index kept beside a file store: the snapshot mapped, the
journals replayed into a flat delta, the entries checked against the store (the layout and the
crash-safety argument are in ``persist``)."""

from __future__ import annotations

import fcntl
import logging
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .._core import VectorIndex
from .persist import _ADD, _FORMAT, _HEAD, _REMOVE, PersistentIndex, _dumps, _write_atomic

log = logging.getLogger("dejacache")


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
    sync = getattr(_store_of(store), "synchronous", "") == "FULL"
    persistent = PersistentIndex(folder, index, identity, sync=sync, writable=writable)
    persistent._lock_file = lock_file
    # Replay every journal from the snapshot's generation on (a crash during a snapshot leaves
    # the newer journal beside the older manifest), in order; cut a torn tail off.
    g = generation
    while True:
        path = folder / f"journal.{g}"
        if not path.exists():
            break
        records, sound = _read_journal(path)
        if writable and sound != path.stat().st_size:
            log.warning("dejacache: cutting a torn record off %s (a process stopped mid-write)", path)
            with open(path, "r+b") as f:
                f.truncate(sound)
        _replay(persistent, entries, records, make_entry)
        g += 1
    persistent._generation = last = max(g - 1, generation)
    if writable:
        for p in folder.iterdir():  # files of older generations a crash left behind
            stem, _, gen = p.name.partition(".")
            if stem in ("index", "entries", "journal") and gen.isdigit() and int(gen) < generation:
                p.unlink(missing_ok=True)
        persistent._open_journal(last)
        if manifest is None:
            _write_atomic(folder / "manifest.json", _dumps({**identity, "generation": 0}))
    _check_against_store(_store_of(store), persistent, entries)
    persistent.entries = entries  # the tier's own map from now on
    _fill_delta(persistent)  # and a snapshot once they are in the graph: the next open maps them
    return persistent, entries


def _replay(
    persistent: PersistentIndex, entries: dict, records: list[tuple[list, bytes]], make_entry: Callable
) -> None:
    """Applies journal records in order: an add goes to the delta (a flat index: a copy, no
    graph work) and out of the graph; a remove out of both."""
    index, dim = persistent.index, persistent.index.dim
    pending = persistent._pending
    for rec, vector in records:
        if rec[0] == _ADD:
            _, scope, vid, ns, key, text, embed = rec
            if len(vector) != 4 * dim:
                continue
            pending[(scope, vid)] = np.frombuffer(vector, np.float32)
            entries[(scope, vid)] = make_entry(ns, key, text, text if embed is None else embed)
            if index.contains(vid, scope):
                index.remove(np.array([vid], np.uint64), scope)
        elif rec[0] == _REMOVE:
            _, scope, vids = rec
            if any(index.contains(vid, scope) for vid in vids):
                index.remove(np.asarray(vids, np.uint64), scope)
            for vid in vids:
                entries.pop((scope, vid), None)
                pending.pop((scope, vid), None)


def _fill_delta(persistent: PersistentIndex) -> None:
    """Puts the replayed adds in a flat index beside the graph, and starts moving them in."""
    if not persistent._pending:
        return
    index = persistent.index
    delta = VectorIndex(index.dim, index.metric, "flat")
    by_scope: dict[str, list[tuple[int, np.ndarray]]] = {}
    for (scope, vid), row in persistent._pending.items():
        by_scope.setdefault(scope, []).append((vid, row))
    for scope, items in by_scope.items():
        ids = np.fromiter((vid for vid, _ in items), np.uint64, len(items))
        delta.add(ids, np.stack([row for _, row in items]), scope)
    persistent.delta, persistent.search = delta, persistent._search_both
    persistent._draining = threading.Thread(target=persistent._drain, daemon=True)
    persistent._draining.start()


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
