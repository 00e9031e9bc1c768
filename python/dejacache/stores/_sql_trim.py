"""Caps of ``SQLStore``: purging expired entries, the batched trim by eviction order (checked
every 1/20 of a cap of this process's writes) and writing back the batched access times."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ._capped import CappedTable
from ._sqlshared import EVICTIONS_I, EXPIRATIONS, pick_victims


class SQLTrim(CappedTable):
    """Mixed into ``SQLStore``: ``purge_expired``, ``_maybe_trim`` and ``_flush_access``."""

    engine: Any
    table: sa.Table
    _order: list[Any]
    _delete_pk: Any
    _touch: Any
    _check_entries: int | None
    _check_bytes: int | None
    _since_entries: int
    _since_bytes: int
    _guard: Callable[..., Any]

    def purge_expired(self, now: float) -> int:
        def run() -> int:
            with self.engine.begin() as c:
                return self._purge_in(c, now)

        return self._guard(run)

    def _purge_in(self, c: Any, now: float) -> int:
        t = self.table
        counts = c.execute(
            sa.select(t.c.namespace, sa.func.count()).where(t.c.expires <= now).group_by(t.c.namespace)
        ).all()
        if not counts:
            return 0
        c.execute(sa.delete(t).where(t.c.expires <= now))
        for ns, n in counts:
            self._counters.add(ns, EXPIRATIONS, int(n))
        return sum(int(n) for _, n in counts)

    def _maybe_trim(self, now: float, keep: tuple[str, bytes] | None, entries: int, nbytes: int) -> int:
        if self.max_entries is None and self.max_bytes is None:
            return 0
        with self._lock:
            self._since_entries += entries
            self._since_bytes += nbytes
            due = (self._check_entries is not None and self._since_entries >= self._check_entries) or (
                self._check_bytes is not None and self._since_bytes >= self._check_bytes
            )
            if due:
                self._since_entries = self._since_bytes = 0
        return self._guard(self._trim, now, keep) if due else 0

    def _trim(self, now: float, keep: tuple[str, bytes] | None) -> int:
        t = self.table
        totals = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(t.c.size), 0)).select_from(t)
        with self.engine.begin() as c:
            entries, nbytes = (int(x) for x in c.execute(totals).one())
            if not self._over(entries, nbytes):
                return 0
            self._touch_in(c, self._access.take())
            if self._purge_in(c, now):
                entries, nbytes = (int(x) for x in c.execute(totals).one())
                if not self._over(entries, nbytes):
                    return 0
            drop_entries, drop_bytes = self._to_drop(entries, nbytes)
            query = sa.select(t.c.namespace, t.c.key, t.c.size).order_by(*self._order)
            if not drop_bytes:
                query = query.limit(drop_entries + 1)  # + 1: the entry just written is skipped
            rows = [(ns, bytes(kb), size) for ns, kb, size in c.execute(query)]
            victims = pick_victims(rows, keep, drop_entries, drop_bytes)
            if victims:
                c.execute(self._delete_pk, [{"ns": ns, "k": kb} for ns, kb, _ in victims])
        for ns, _, _ in victims:
            self._counters.add(ns, EVICTIONS_I)
        return len(victims)

    def _touch_in(self, c: Any, updates: list[tuple[str, bytes, float, int]]) -> None:
        if updates:
            c.execute(self._touch, [{"ns": ns, "k": kb, "la": la, "h": h} for ns, kb, la, h in updates])

    def _flush_access(self) -> None:
        if not self._access or self._closed:
            return
        updates = self._access.take()

        def run() -> None:
            with self.engine.begin() as c:
                self._touch_in(c, updates)

        self._guard(run)
