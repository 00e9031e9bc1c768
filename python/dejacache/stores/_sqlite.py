"""The embedded persistent entry store: one SQLite file (stdlib ``sqlite3``), shared by every
thread and process that opens it.

Durability: WAL with ``synchronous=NORMAL`` (the default here). A ``put`` returns after its
transaction is in the WAL file; with NORMAL the WAL is not fsynced at each commit, so a power
loss or OS crash may lose the last transactions, but a killed process (kill -9, OOM) loses
nothing acknowledged: the write is in the operating system's page cache, which outlives the
process (tests/stores/sql/test_sqlite_crash.py kills a writer at random points and checks every
acknowledged key). Pass ``synchronous="FULL"`` to survive power loss too, at one fsync per write.

Layout: table ``dejacache_entries`` (WITHOUT ROWID, primary key ``(namespace, key)`` with the
key as its 16 bytes) and ``dejacache_totals`` (entries and bytes per namespace, kept by
triggers, so caps and ``len`` never count the table). Values are the exact bytes the cache
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

from ._sqlite_locks import SQLiteLocks
from ._sqlshared import (
    EVICTIONS_I,
    EXPIRATIONS,
    HITS,
    MISSES,
    STORES,
    AccessLog,
    Counters,
    check_options,
    check_ttl,
    check_value,
    key_bytes,
    merge_stats,
    pick_victims,
    sqlite_path_of_url,
    trim_target,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dejacache_entries (
    namespace TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    last_access REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dejacache_entries_expires ON dejacache_entries(expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS dejacache_totals (
    namespace TEXT PRIMARY KEY,
    entries INTEGER NOT NULL,
    bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS dejacache_entries_ins AFTER INSERT ON dejacache_entries BEGIN
    INSERT INTO dejacache_totals(namespace, entries, bytes) VALUES (NEW.namespace, 1, NEW.size)
    ON CONFLICT(namespace) DO UPDATE SET entries = entries + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS dejacache_entries_del AFTER DELETE ON dejacache_entries BEGIN
    UPDATE dejacache_totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE namespace = OLD.namespace;
END;
CREATE TRIGGER IF NOT EXISTS dejacache_entries_upd AFTER UPDATE OF size ON dejacache_entries BEGIN
    UPDATE dejacache_totals SET bytes = bytes - OLD.size + NEW.size WHERE namespace = NEW.namespace;
END;
"""
# One index per eviction order, made by the first store that evicts that way.
_ORDER_INDEX = {
    "lru": "CREATE INDEX IF NOT EXISTS dejacache_entries_lru ON dejacache_entries(last_access)",
    "fifo": "CREATE INDEX IF NOT EXISTS dejacache_entries_fifo ON dejacache_entries(created)",
    "lfu": "CREATE INDEX IF NOT EXISTS dejacache_entries_lfu ON dejacache_entries(hits, last_access)",
}
_ORDER_BY = {"lru": "last_access", "fifo": "created", "lfu": "hits, last_access"}

_GET = "SELECT value, created, expires, last_access FROM dejacache_entries WHERE namespace = ? AND key = ?"
_CONTAINS = "SELECT 1 FROM dejacache_entries WHERE namespace = ? AND key = ? AND (expires IS NULL OR expires > ?)"
_UPSERT = (
    "INSERT INTO dejacache_entries(namespace, key, value, created, expires, last_access, hits, size)"
    " VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value,"
    " created = excluded.created, expires = excluded.expires, last_access = excluded.last_access,"
    " hits = 0, size = excluded.size"
)
_TOTALS = "SELECT COALESCE(SUM(entries), 0), COALESCE(SUM(bytes), 0) FROM dejacache_totals"
_EXPIRE_ONE = "DELETE FROM dejacache_entries WHERE namespace = ? AND key = ? AND expires <= ?"
_DELETE_ONE = "DELETE FROM dejacache_entries WHERE namespace = ? AND key = ?"
_TOUCH = (
    "UPDATE dejacache_entries SET last_access = MAX(last_access, ?), hits = hits + ? WHERE namespace = ? AND key = ?"
)


class SQLiteStore(SQLiteLocks):
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
        check_options(max_entries, max_bytes, default_ttl, eviction)
        if str(synchronous).upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        path = os.fspath(path)
        if path.startswith("sqlite://"):
            path = sqlite_path_of_url(path)
        if not path or path == ":memory:" or path.startswith("file::memory:"):
            raise ValueError("SQLiteStore needs a file path; for a store in memory use the default in-process store")
        self.path = path
        self.max_entries, self.max_bytes, self.eviction = max_entries, max_bytes, eviction
        self.default_ttl = None if default_ttl is None else float(default_ttl)
        self.busy_timeout_s = float(busy_timeout_s)
        self.synchronous = str(synchronous).upper()
        self._pragmas = [
            f"PRAGMA synchronous={self.synchronous}",
            f"PRAGMA mmap_size={int(mmap_bytes)}",
            f"PRAGMA cache_size={-int(cache_kib)}",
        ]
        self._counters = Counters()
        self._access = AccessLog(eviction, granularity=access_granularity_s)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._closed = False
        self._order = f"SELECT namespace, key, size FROM dejacache_entries ORDER BY {_ORDER_BY[eviction]}"
        conn = self._conn()
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file
        try:
            conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + _ORDER_INDEX[eviction] + "; COMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
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
        conn = self._conn()
        row = conn.execute(_GET, (namespace, kb)).fetchone()
        if row is None:
            self._counters.add(namespace, MISSES)
            return None
        value, created, expires, last_access = row
        if expires is not None and expires <= now:
            with self._write() as c:
                gone = c.execute(_EXPIRE_ONE, (namespace, kb, now)).rowcount
            if gone:
                self._counters.add(namespace, EXPIRATIONS)
            self._counters.add(namespace, MISSES)
            return None
        if max_age is not None and now - created > max_age:
            self._counters.add(namespace, MISSES)
            return None
        self._counters.add(namespace, HITS)
        if self._access.note(namespace, kb, now, last_access):
            self._flush_access(quiet=True)
        return value, created

    def lookup(
        self, schema: Any, request: Any, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[str, bytes | None, float]:
        key = schema.key(request)
        found = self.get(key, namespace, now, max_age)
        return (key, None, 0.0) if found is None else (key, found[0], found[1])

    def contains(self, key: str, namespace: str, now: float) -> bool:
        return self._conn().execute(_CONTAINS, (namespace, key_bytes(key), now)).fetchone() is not None

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
        return int(self._conn().execute(_TOTALS).fetchone()[0])

    @property
    def bytes(self) -> int:
        return int(self._conn().execute(_TOTALS).fetchone()[1])

    def stats(self) -> list[tuple[str, dict[str, int]]]:
        rows = self._conn().execute("SELECT namespace, entries, bytes FROM dejacache_totals").fetchall()
        return merge_stats(self._counters.snapshot(), rows)

    # -- writes --------------------------------------------------------------------------------

    def _prepare(self, key: str, value: Any, ttl: Any, now: float) -> tuple[builtins.bytes, float | None] | None:
        """``(key bytes, expires)``, or None when the entry is not to be stored."""
        kb = key_bytes(key)
        check_value(value)
        ttl = check_ttl(ttl)
        if ttl is None:
            ttl = self.default_ttl
        if ttl == 0 or (self.max_bytes is not None and len(value) > self.max_bytes):
            return None
        return kb, None if ttl is None else now + ttl

    def put(
        self, key: str, namespace: str, value: builtins.bytes, now: float, ttl: float | None = None
    ) -> tuple[bool, int]:
        prepared = self._prepare(key, value, ttl, now)
        if prepared is None:
            return False, 0
        kb, expires = prepared
        self._conn().execute(_UPSERT, (namespace, kb, value, now, expires, now, len(value)))
        self._counters.add(namespace, STORES)
        return True, self._trim(now, (namespace, kb))

    def put_many(self, items: Sequence[tuple[str, str, builtins.bytes, float | None]], now: float) -> int:
        """Writes every item in one transaction (one commit); a later item with the same
        ``(namespace, key)`` wins. Returns how many were stored."""
        rows: dict[tuple[str, bytes], tuple[Any, ...]] = {}
        stored: dict[str, int] = {}
        for key, namespace, value, ttl in items:
            prepared = self._prepare(key, value, ttl, now)
            if prepared is None:
                continue
            kb, expires = prepared
            rows.pop((namespace, kb), None)  # keep the order of the last write
            rows[(namespace, kb)] = (namespace, kb, value, now, expires, now, len(value))
            stored[namespace] = stored.get(namespace, 0) + 1
        if rows:
            with self._write() as c:
                c.executemany(_UPSERT, rows.values())
        for namespace, n in stored.items():
            self._counters.add(namespace, STORES, n)
        if rows:
            self._trim(now, None)
        return sum(stored.values())

    def remove(self, key: str, namespace: str) -> bool:
        return self._conn().execute(_DELETE_ONE, (namespace, key_bytes(key))).rowcount > 0

    def clear(self, namespace: str | None = None) -> int:
        if namespace is None:
            return self._conn().execute("DELETE FROM dejacache_entries").rowcount
        return self._conn().execute("DELETE FROM dejacache_entries WHERE namespace = ?", (namespace,)).rowcount

    def purge_expired(self, now: float) -> int:
        with self._write() as c:
            return self._purge_in(c, now)

    def _purge_in(self, c: sqlite3.Connection, now: float) -> int:
        counts = c.execute(
            "SELECT namespace, COUNT(*) FROM dejacache_entries WHERE expires <= ? GROUP BY namespace", (now,)
        ).fetchall()
        if not counts:
            return 0
        c.execute("DELETE FROM dejacache_entries WHERE expires <= ?", (now,))
        for namespace, n in counts:
            self._counters.add(namespace, EXPIRATIONS, n)
        return sum(n for _, n in counts)

    def _over(self, entries: int, nbytes: int) -> bool:
        return (self.max_entries is not None and entries > self.max_entries) or (
            self.max_bytes is not None and nbytes > self.max_bytes
        )

    def _trim(self, now: float, keep: tuple[str, builtins.bytes] | None) -> int:
        """Brings the file under its caps when a write crossed one; returns entries evicted."""
        if self.max_entries is None and self.max_bytes is None:
            return 0
        conn = self._conn()
        if not self._over(*conn.execute(_TOTALS).fetchone()):
            return 0
        with self._write() as c:
            self._touch_in(c, self._access.take())
            if not self._over(*c.execute(_TOTALS).fetchone()):  # another process trimmed first
                return 0
            self._purge_in(c, now)
            entries, nbytes = c.execute(_TOTALS).fetchone()
            if not self._over(entries, nbytes):
                return 0
            target_entries, target_bytes = trim_target(self.max_entries), trim_target(self.max_bytes)
            drop_entries = entries - target_entries if target_entries is not None and self._over(entries, 0) else 0
            drop_bytes = nbytes - target_bytes if target_bytes is not None and self._over(0, nbytes) else 0
            cursor = c.execute(self._order)
            victims = pick_victims(cursor, keep, drop_entries, drop_bytes)
            cursor.close()
            c.executemany(_DELETE_ONE, [(ns, kb) for ns, kb, _ in victims])
        by_ns: dict[str, int] = {}
        for ns, _, _ in victims:
            by_ns[ns] = by_ns.get(ns, 0) + 1
        for ns, n in by_ns.items():
            self._counters.add(ns, EVICTIONS_I, n)
        return len(victims)

    def _touch_in(self, c: sqlite3.Connection, updates: list[tuple[str, builtins.bytes, float, int]]) -> None:
        if updates:
            c.executemany(_TOUCH, [(la, h, ns, kb) for ns, kb, la, h in updates])

    def _flush_access(self, quiet: bool) -> None:
        """Writes the batched access times / hit counts. With ``quiet`` a busy file drops them:
        they only order evictions, and a read must not fail for them."""
        if not self._access or self._closed:
            return
        updates = self._access.take()
        try:
            with self._write() as c:
                self._touch_in(c, updates)
        except sqlite3.OperationalError:
            if not quiet:
                raise


_inherited: list[sqlite3.Connection] = []
_forget_after_fork: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for store in list(_forget_after_fork):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
