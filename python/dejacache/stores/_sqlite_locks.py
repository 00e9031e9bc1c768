"""Single-flight locks for ``SQLiteStore``: one row per ``(namespace, key)`` in ``dejacache_locks``,
so processes sharing one SQLite file make one provider call per identical miss (see
``dejacache._shared_flight``).

A lock row holds a random token and an expiry in wall-clock seconds (every process opening one
file runs on one host, so they share the clock). ``try_lead`` deletes an expired row and inserts
its own in one write transaction; ``end_lead`` / ``extend_lead`` act only while the token still
matches, so a leader whose lock expired cannot free or keep another leader's lock; ``wait_for``
polls the entry and the lock (one read each) with backoff from 1 ms to 50 ms. A leader that dies
leaves its row to expire.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ._sqlshared import key_bytes

_LOCKS = (
    "CREATE TABLE IF NOT EXISTS dejacache_locks (namespace TEXT NOT NULL, key BLOB NOT NULL,"
    " token TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID"
)
_ENTRY = "SELECT value, created, expires FROM dejacache_entries WHERE namespace = ? AND key = ?"
_HELD = "SELECT 1 FROM dejacache_locks WHERE namespace = ? AND key = ? AND expires > ?"


class SQLiteLocks:
    """Mixed into ``SQLiteStore``: ``try_lead``, ``end_lead``, ``extend_lead``, ``wait_for``."""

    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _locks_ready = False

    @contextmanager
    def _lock_write(self) -> Iterator[sqlite3.Connection]:
        with self._write() as c:
            if not self._locks_ready:
                c.execute(_LOCKS)
            yield c
        self._locks_ready = True

    def try_lead(self, namespace: str, key: str, ttl_s: float) -> str | None:
        """A token when this caller now leads the computation of ``(namespace, key)``, None when
        another caller holds the lock. The lock expires after ``ttl_s`` whatever happens."""
        kb, token, now = key_bytes(key), uuid.uuid4().hex, time.time()
        with self._lock_write() as c:
            c.execute(
                "DELETE FROM dejacache_locks WHERE namespace = ? AND key = ? AND expires <= ?", (namespace, kb, now)
            )
            cur = c.execute(
                "INSERT OR IGNORE INTO dejacache_locks(namespace, key, token, expires) VALUES (?, ?, ?, ?)",
                (namespace, kb, token, now + ttl_s),
            )
        return token if cur.rowcount == 1 else None

    def end_lead(self, namespace: str, key: str, token: str) -> bool:
        """Releases the lock if ``token`` still holds it; True when it did."""
        with self._lock_write() as c:
            sql = "DELETE FROM dejacache_locks WHERE namespace = ? AND key = ? AND token = ?"
            return bool(c.execute(sql, (namespace, key_bytes(key), token)).rowcount == 1)

    def extend_lead(self, namespace: str, key: str, token: str, ttl_s: float) -> bool:
        """Gives the lock ``ttl_s`` more seconds if ``token`` still holds it; True when it did."""
        with self._lock_write() as c:
            sql = "UPDATE dejacache_locks SET expires = ? WHERE namespace = ? AND key = ? AND token = ?"
            return bool(c.execute(sql, (time.time() + ttl_s, namespace, key_bytes(key), token)).rowcount == 1)

    def wait_for(self, namespace: str, key: str, now: float, timeout_s: float) -> tuple[bytes, float] | None:
        """Waits for the leader's entry: ``(value, created)``, or None when the lock is gone
        without an entry (the leader failed or stored nothing) or ``timeout_s`` passed. ``now`` is
        the caller's clock at the start. Counts nothing."""
        kb = key_bytes(key)
        conn = self._conn()
        start = time.monotonic()
        delay = 0.001
        while True:
            found = self._live(conn.execute(_ENTRY, (namespace, kb)).fetchone(), now + time.monotonic() - start)
            if found is not None:
                return found
            try:
                held = conn.execute(_HELD, (namespace, kb, time.time())).fetchone() is not None
            except sqlite3.OperationalError:  # no lock table yet: nobody ever led here
                held = False
            elapsed = time.monotonic() - start
            if not held:  # the leader may have stored and released between the two reads
                return self._live(conn.execute(_ENTRY, (namespace, kb)).fetchone(), now + elapsed)
            if elapsed >= timeout_s:
                return None
            time.sleep(min(delay, max(0.0, timeout_s - elapsed)))
            delay = min(delay * 2, 0.05)

    @staticmethod
    def _live(row: Any, now: float) -> tuple[bytes, float] | None:
        if row is None:
            return None
        value, created, expires = row
        return None if expires is not None and expires <= now else (value, created)
