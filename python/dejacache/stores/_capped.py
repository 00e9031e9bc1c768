"""What ``SQLiteStore`` and ``SQLStore`` share from their options: the checks of the caps, the
default ttl and the eviction order, the per-process counters and access log, what a row read by
key answers, whether a write is stored and when it expires, and how much a trim drops."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any

from ._sqlshared import (
    EXPIRATIONS,
    HITS,
    MISSES,
    AccessLog,
    Counters,
    check_options,
    check_ttl,
    check_value,
    trim_target,
)


class CappedTable(ABC):
    """Base of the two table stores (through their trim mixins)."""

    max_entries: int | None
    max_bytes: int | None
    eviction: str
    default_ttl: float | None
    _counters: Counters
    _access: AccessLog
    _local: threading.local
    _lock: threading.Lock
    _closed: bool

    def _init_options(
        self,
        max_entries: int | None,
        max_bytes: int | None,
        default_ttl: float | None,
        eviction: str,
        access_granularity_s: float,
    ) -> None:
        """Checks the options (a ValueError says which is wrong) and sets the state both stores keep."""
        check_options(max_entries, max_bytes, default_ttl, eviction)
        self.max_entries, self.max_bytes, self.eviction = max_entries, max_bytes, eviction
        self.default_ttl = None if default_ttl is None else float(default_ttl)
        self._counters = Counters()
        self._access = AccessLog(eviction, granularity=access_granularity_s)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._closed = False

    @abstractmethod
    def _delete_expired(self, namespace: str, kb: bytes, now: float) -> int:
        """Deletes the entry if it is still expired at ``now``; how many rows went."""

    @abstractmethod
    def _flush_quietly(self) -> None:
        """Writes back the access log; a fault is swallowed (access times only order evictions)."""

    def _answer(
        self, row: Any, namespace: str, kb: bytes, now: float, max_age: float | None
    ) -> tuple[Any, float] | None:
        """``(value, created)`` from a row ``(value, created, expires, last_access)`` read by key,
        or None for a miss (counted): no row, an expired one (deleted), or one older than
        ``max_age``. A hit is noted in the access log, flushed when it is due."""
        if row is None:
            self._counters.add(namespace, MISSES)
            return None
        value, created, expires, last_access = row
        if expires is not None and expires <= now:
            if self._delete_expired(namespace, kb, now):
                self._counters.add(namespace, EXPIRATIONS)
            self._counters.add(namespace, MISSES)
            return None
        if max_age is not None and now - created > max_age:
            self._counters.add(namespace, MISSES)
            return None
        self._counters.add(namespace, HITS)
        if self._access.note(namespace, kb, now, last_access):
            self._flush_quietly()
        return value, created

    @abstractmethod
    def get(self, key: str, namespace: str, now: float, max_age: float | None = None) -> tuple[bytes, float] | None:
        """``(value, created)`` of a live entry, or None."""

    def lookup(
        self, schema: Any, request: Any, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[str, bytes | None, float]:
        key = schema.key(request)
        found = self.get(key, namespace, now, max_age)
        return (key, None, 0.0) if found is None else (key, found[0], found[1])

    def _expiry(self, value: Any, ttl: Any, now: float) -> tuple[bool, float | None]:
        """``(stored, expires)`` of a write: not stored when its ttl is 0 or the value alone is
        over ``max_bytes``; ``expires`` None means never."""
        check_value(value)
        ttl = check_ttl(ttl)
        if ttl is None:
            ttl = self.default_ttl
        if ttl == 0 or (self.max_bytes is not None and len(value) > self.max_bytes):
            return False, None
        return True, None if ttl is None else now + ttl

    def _over(self, entries: int, nbytes: int) -> bool:
        return (self.max_entries is not None and entries > self.max_entries) or (
            self.max_bytes is not None and nbytes > self.max_bytes
        )

    def _to_drop(self, entries: int, nbytes: int) -> tuple[int, int]:
        """Entries and bytes a trim removes to come 10% under each cap that is crossed."""
        target_entries, target_bytes = trim_target(self.max_entries), trim_target(self.max_bytes)
        drop_entries = entries - target_entries if target_entries is not None and self._over(entries, 0) else 0
        drop_bytes = nbytes - target_bytes if target_bytes is not None and self._over(0, nbytes) else 0
        return drop_entries, drop_bytes
