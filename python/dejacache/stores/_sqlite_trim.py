"""Caps of ``SQLiteStore``: purging expired entries, the batched trim by eviction order when a
write crossed ``max_entries`` / ``max_bytes``, and writing back the batched access times."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

from ._capped import CappedTable
from ._sqlite_schema import DELETE_ONE, TOTALS, TOUCH
from ._sqlshared import EVICTIONS_I, EXPIRATIONS, pick_victims


class SQLiteTrim(CappedTable):
    """Mixed into ``SQLiteStore``: ``purge_expired``, ``_trim`` and ``_flush_access``."""

    _order: str
    _conn: Callable[[], sqlite3.Connection]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

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

    def _trim(self, now: float, keep: tuple[str, builtins.bytes] | None) -> int:
        """Brings the file under its caps when a write crossed one; returns entries evicted."""
        if self.max_entries is None and self.max_bytes is None:
            return 0
        conn = self._conn()
        if not self._over(*conn.execute(TOTALS).fetchone()):
            return 0
        with self._write() as c:
            self._touch_in(c, self._access.take())
            if not self._over(*c.execute(TOTALS).fetchone()):  # another process trimmed first
                return 0
            self._purge_in(c, now)
            entries, nbytes = c.execute(TOTALS).fetchone()
            if not self._over(entries, nbytes):
                return 0
            drop_entries, drop_bytes = self._to_drop(entries, nbytes)
            cursor = c.execute(self._order)
            victims = pick_victims(cursor, keep, drop_entries, drop_bytes)
            cursor.close()
            c.executemany(DELETE_ONE, [(ns, kb) for ns, kb, _ in victims])
        by_ns: dict[str, int] = {}
        for ns, _, _ in victims:
            by_ns[ns] = by_ns.get(ns, 0) + 1
        for ns, n in by_ns.items():
            self._counters.add(ns, EVICTIONS_I, n)
        return len(victims)

    def _touch_in(self, c: sqlite3.Connection, updates: list[tuple[str, builtins.bytes, float, int]]) -> None:
        if updates:
            c.executemany(TOUCH, [(la, h, ns, kb) for ns, kb, la, h in updates])

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
