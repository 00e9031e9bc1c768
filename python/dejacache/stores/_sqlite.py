"""The embedded persistent entry store: one SQLite file (stdlib ``sqlite3``), shared by every
thread and process that opens it.

Durability: WAL with ``synchronous=NORMAL`` (the default here). A ``put`` returns after its
transaction is in the WAL file; with NORMAL the WAL is not fsynced at each commit, so a power
loss or OS crash may lose the last transactions, but a killed process (kill -9, OOM) loses
nothing acknowledged: the write is in the operating system's page cache, which outlives the
process (tests/stores/sql/test_sql_processes.py kills a writer at random points and checks every
acknowledged key). Pass ``synchronous="FULL"`` to survive power loss too, at one fsync per write.

Layout (version 2 in ``PRAGMA user_version``, see ``_sqlite_schema``): table ``dejacache_entries``
(a rowid table, primary key ``(namespace, key)`` with the key as its 16 bytes; a file of the
first layout, WITHOUT ROWID, is rebuilt once on open) and ``dejacache_totals`` (entries and
bytes per namespace, kept by triggers, so caps and ``len`` never count the table; a big ``put_many`` writes
without them and counts again, ``_sqlite_bulk``). Values are the exact bytes the cache
encoded (an orjson envelope), never pickled.

Caps are enforced after the write that crosses them, by a batched trim: expired entries go
first, then entries in eviction order (last access for LRU, creation for FIFO, hit count for
LFU) until the store is 10% under the cap. Reads do not write: last-access times (only when the
stored one is over a second old) and hit counts are written back in batches (``AccessLog``).
Hits, misses, stores, evictions and expirations are counted per process; entries and bytes are
the file's.
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ._sqlite_bulk import write_rows
from ._sqlite_locks import SQLiteLocks
from ._sqlite_schema import (
    CONTAINS,
    DELETE_ONE,
    EXPIRE_ONE,
    GET,
    ORDER_BY,
    ORDER_INDEX,
    TOTALS,
    UPSERT,
    open_layout,
)
from ._sqlite_trim import SQLiteTrim
from ._sqlshared import (
    STORES,
    key_bytes,
    merge_stats,
    sqlite_path_of_url,
)

_fromhex = builtins.bytes.fromhex


class SQLiteStore(SQLiteTrim, SQLiteLocks):
    """An entry store in one SQLite file (see the module docstring).

    ``path``: a file path or ``sqlite:///relative/path`` / ``sqlite:////absolute/path``.
    ``busy_timeout_s``: how long a write waits for another process's write lock before
    ``sqlite3.OperationalError`` ("database is locked"). ``synchronous``: "NORMAL" (survives
    process kills) or "FULL" (survives power loss too). ``access_granularity_s``: an LRU read
    records its time only when the stored last access is older than this. ``mmap_bytes``: how
    much of the file reads map instead of copying (0: none; measured 46 -> 18 us per raw read
    at 100k entries); ``cache_kib``: SQLite's page cache per connection.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_entries: int | None = None,
        max_bytes: int | None = None,
        default_ttl: float | None = None,
        eviction: str = "lru",
        busy_timeout_s: float = 5.0,
        synchronous: str = "NORMAL",
        access_granularity_s: float = 1.0,
        mmap_bytes: int = 256 << 20,
        cache_kib: int = 16 << 10,
    ) -> None:
        self._init_options(max_entries, max_bytes, default_ttl, eviction, access_granularity_s)
        if str(synchronous).upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        path = os.fspath(path)
        if path.startswith("sqlite://"):
            path = sqlite_path_of_url(path)
        if not path or path == ":memory:" or path.startswith("file::memory:"):
            raise ValueError("SQLiteStore needs a file path; for a store in memory use the default in-process store")
        self.path = path
        self.busy_timeout_s = float(busy_timeout_s)
        self.synchronous = str(synchronous).upper()
        self._pragmas = [
            f"PRAGMA synchronous={self.synchronous}",
            f"PRAGMA mmap_size={int(mmap_bytes)}",
            f"PRAGMA cache_size={-int(cache_kib)}",
        ]
        self._conns: list[sqlite3.Connection] = []
        self._order = f"SELECT namespace, key, size FROM dejacache_entries ORDER BY {ORDER_BY[eviction]}"
        conn = self._conn()
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file
        open_layout(conn, ORDER_INDEX[eviction])
        _forget_after_fork.add(self)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteStore:
        return cls(sqlite_path_of_url(url), **options)

    def __repr__(self) -> str:
        caps = f", max_entries={self.max_entries}, max_bytes={self.max_bytes}, eviction={self.eviction!r}"
        return f"SQLiteStore({self.path!r}{caps})"

    # -- connections ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        try:
            return self._local.conn
        except AttributeError:
            pass
        if self._closed:
            raise ValueError("this SQLiteStore is closed")
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False)
        for pragma in self._pragmas:
            conn.execute(pragma)
        with self._lock:
            self._conns.append(conn)
        self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that takes the write lock at once (BEGIN IMMEDIATE: waits for
        other writers up to the busy timeout instead of failing on a read-to-write upgrade)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _after_fork(self) -> None:
        # A connection must not cross fork(): the child opens its own and never closes the
        # parent's (closing it could release the parent's locks).
        _inherited.extend(self._conns)
        self._conns = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._flush_access(quiet=True)
        self._closed = True
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    # -- reads ---------------------------------------------------------------------------------

    def get(self, key: str, namespace: str, now: float, max_age: float | None = None) -> tuple[bytes, float] | None:
        kb = key_bytes(key)
        return self._answer(self._conn().execute(GET, (namespace, kb)).fetchone(), namespace, kb, now, max_age)

    def _delete_expired(self, namespace: str, kb: builtins.bytes, now: float) -> int:
        with self._write() as c:
            return int(c.execute(EXPIRE_ONE, (namespace, kb, now)).rowcount)

    def _flush_quietly(self) -> None:
        self._flush_access(quiet=True)

    def contains(self, key: str, namespace: str, now: float) -> bool:
        return self._conn().execute(CONTAINS, (namespace, key_bytes(key), now)).fetchone() is not None

    def keys(self, namespace: str) -> list[str]:
        """Keys of one namespace, the most recently used (LRU, LFU) or newest (FIFO) first."""
        self._flush_access(quiet=True)
        order = "created" if self.eviction == "fifo" else "last_access"
        rows = self._conn().execute(
            f"SELECT key FROM dejacache_entries WHERE namespace = ? ORDER BY {order} DESC", (namespace,)
        )
        return [kb.hex() for (kb,) in rows]

    def __len__(self) -> int:
        """Entries in the file (expired ones included until read or purged), from the totals."""
        return int(self._conn().execute(TOTALS).fetchone()[0])

    @property
    def bytes(self) -> int:
        return int(self._conn().execute(TOTALS).fetchone()[1])

    def stats(self) -> list[tuple[str, dict[str, int]]]:
        rows = self._conn().execute("SELECT namespace, entries, bytes FROM dejacache_totals").fetchall()
        return merge_stats(self._counters.snapshot(), rows)

    # -- writes --------------------------------------------------------------------------------

    def _prepare(self, key: str, value: Any, ttl: Any, now: float) -> tuple[builtins.bytes, float | None] | None:
        """``(key bytes, expires)``, or None when the entry is not to be stored."""
        kb = key_bytes(key)
        stored, expires = self._expiry(value, ttl, now)
        return (kb, expires) if stored else None

    def put(
        self, key: str, namespace: str, value: builtins.bytes, now: float, ttl: float | None = None
    ) -> tuple[bool, int]:
        prepared = self._prepare(key, value, ttl, now)
        if prepared is None:
            return False, 0
        kb, expires = prepared
        self._conn().execute(UPSERT, (namespace, kb, value, now, expires, now, len(value)))
        self._counters.add(namespace, STORES)
        return True, self._trim(now, (namespace, kb))

    def put_many(self, items: Sequence[tuple[str, str, builtins.bytes, float | None]], now: float) -> int:
        """Writes every item in one transaction (one commit), in order, so a later item with the
        same ``(namespace, key)`` wins. Returns how many were stored."""
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        stored: dict[str, int] = {}
        # Without a default ttl or a byte cap, an item with no ttl needs only its key converted
        # (the per-item checks cost a third of a bulk write): done inline, the rest via _prepare.
        plain = self.default_ttl is None and self.max_bytes is None
        for key, namespace, value, ttl in items:
            kb = None
            if plain and ttl is None and type(value) is builtins.bytes and len(key) == 32:
                try:
                    kb = _fromhex(key)
                except (ValueError, TypeError):
                    pass
            if kb is not None and len(kb) == 16:
                expires = None
            else:
                prepared = self._prepare(key, value, ttl, now)
                if prepared is None:
                    continue
                kb, expires = prepared
            append((namespace, kb, value, now, expires, now, len(value)))
            stored[namespace] = stored.get(namespace, 0) + 1
        if rows:
            with self._write() as c:  # rows in order: a later write of a key wins
                write_rows(c, rows)
        for namespace, n in stored.items():
            self._counters.add(namespace, STORES, n)
        if rows:
            self._trim(now, None)
        return len(rows)

    def remove(self, key: str, namespace: str) -> bool:
        return self._conn().execute(DELETE_ONE, (namespace, key_bytes(key))).rowcount > 0

    def clear(self, namespace: str | None = None) -> int:
        if namespace is None:
            return self._conn().execute("DELETE FROM dejacache_entries").rowcount
        return self._conn().execute("DELETE FROM dejacache_entries WHERE namespace = ?", (namespace,)).rowcount


_inherited: list[sqlite3.Connection] = []
_forget_after_fork: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for store in list(_forget_after_fork):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
