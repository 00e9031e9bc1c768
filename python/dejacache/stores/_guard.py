"""``GuardedStore``: any entry store behind a fault guard, so a backend fault never fails a request.

Every operation that raises (``StoreUnavailable``, ``ConnectionError``, ``TimeoutError``, redis-py
or SQLAlchemy errors: any ``Exception``) is counted in ``store_errors`` and answered as a miss /
not stored / 0 / empty. The keying ``TypeError`` / ``ValueError`` of ``lookup`` is the caller's bad
request and propagates.

Circuit breaker: after ``failures_to_open`` consecutive failures the breaker opens and calls skip
the backend (``store_skipped``) for ``probe_after_s``; then one call goes through as a probe
(the others keep skipping): success closes the breaker, failure opens it again. A hot operation
(get / lookup / put / contains / remove / put_many / locks) that succeeds but takes longer than
``timeout_s`` counts as a failure for the breaker (its answer is still used), so a backend that
answers slowly is skipped too. Each state change is logged once, as a warning naming the store
by its ``repr`` (never a password).

What bounds one operation is the client's own timeout: redis-py ``socket_timeout`` /
``socket_connect_timeout`` (0.25 s / 0.5 s by default in ``RedisStore.from_url``); SQLite's busy
timeout (``sqlite3.connect(timeout=...)``) bounds a wait on a locked database file; SQL drivers'
connect / statement timeouts bound the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("dejacache.stores")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class GuardedStore:
    """Wraps ``store``; see the module docstring. ``guard_stats()`` gives the guard's counters."""

    def __init__(
        self,
        store: Any,
        *,
        timeout_s: float = 0.5,
        failures_to_open: int = 5,
        probe_after_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures_to_open < 1:
            raise ValueError(f"failures_to_open must be >= 1, got {failures_to_open}")
        if timeout_s <= 0 or probe_after_s < 0:
            raise ValueError("timeout_s must be > 0 and probe_after_s >= 0 (seconds)")
        self.store = store
        self.timeout_s = timeout_s
        self.failures_to_open = failures_to_open
        self.probe_after_s = probe_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.store_errors = 0
        self.store_skipped = 0

    def __repr__(self) -> str:
        return f"GuardedStore({self.store!r}, breaker={self._state})"

    # -- the breaker ------------------------------------------------------------------------

    def _admit(self) -> bool:
        """True when the call may go to the backend; counts a skip otherwise."""
        if self._state == CLOSED:  # the usual case, read without the lock: a racing change is a call a moment earlier
            return True
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN and not self._probing and self._clock() - self._opened_at >= self.probe_after_s:
                self._set_state(HALF_OPEN)
                self._probing = True
                return True
            self.store_skipped += 1
            return False

    def _set_state(self, state: str, reason: str = "") -> None:
        if state == self._state:
            return
        self._state = state
        if state == OPEN:
            log.warning("%r: store failing (%s); skipping it for %.2f s", self.store, reason, self.probe_after_s)
        elif state == CLOSED:
            log.warning("%r: store answering again; breaker closed", self.store)
        else:
            log.warning("%r: probing the store", self.store)

    def _failed(self, reason: str, error: bool) -> None:
        with self._lock:
            if error:
                self.store_errors += 1
            self._failures += 1
            if self._probing or self._failures >= self.failures_to_open:
                self._probing = False
                self._opened_at = self._clock()
                self._set_state(OPEN, reason)

    def _succeeded(self, started: float | None) -> None:
        if started is not None and self._clock() - started > self.timeout_s:
            self._failed(f"slower than {self.timeout_s} s", error=False)
            return
        if self._failures == 0 and self._state == CLOSED:  # nothing to reset (the usual case): no lock
            return
        with self._lock:
            self._failures = 0
            if self._state != CLOSED:
                self._probing = False
                self._set_state(CLOSED)

    def _call(self, fallback: Any, fn: Callable[..., Any], *args: Any, timed: bool = True) -> Any:
        if not self._admit():
            return fallback
        started = self._clock() if timed else None
        try:
            result = fn(*args)
        except Exception as exc:
            self._failed(type(exc).__name__, error=True)
            return fallback
        self._succeeded(started)
        return result

    async def _acall(self, fallback: Any, fn: Callable[..., Any], *args: Any) -> Any:
        if not self._admit():
            return fallback
        started = self._clock()
        try:
            result = await fn(*args)
        except Exception as exc:
            self._failed(type(exc).__name__, error=True)
            return fallback
        self._succeeded(started)
        return result

    def guard_stats(self) -> dict[str, Any]:
        """``{"store_errors": n, "store_skipped": n, "breaker": "closed" | "open" | "half-open"}``."""
        with self._lock:
            return {"store_errors": self.store_errors, "store_skipped": self.store_skipped, "breaker": self._state}

    @property
    def breaker(self) -> str:
        return self._state

    # -- the entry-store protocol -----------------------------------------------------------

    def lookup(
        self, schema: Any, request: Any, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[str, bytes | None, float]:
        if not self._admit():
            return (schema.key(request), None, 0.0)
        started = self._clock()
        try:
            result = self.store.lookup(schema, request, namespace, now, max_age)
        except (TypeError, ValueError):
            raise  # keying: the caller's bad request, not a store fault
        except Exception as exc:
            self._failed(type(exc).__name__, error=True)
            return (schema.key(request), None, 0.0)
        self._succeeded(started)
        return result

    def get(self, key: str, namespace: str, now: float, max_age: float | None = None) -> tuple[bytes, float] | None:
        return self._call(None, self.store.get, key, namespace, now, max_age)

    def put(self, key: str, namespace: str, value: bytes, now: float, ttl: float | None = None) -> tuple[bool, int]:
        return self._call((False, 0), self.store.put, key, namespace, value, now, ttl)

    def put_many(self, items: Sequence[tuple[str, str, bytes, float | None]], now: float) -> int:
        put_many = getattr(self.store, "put_many", None)
        if put_many is None:
            return sum(self.put(k, ns, v, now, ttl)[0] for k, ns, v, ttl in items)
        return self._call(0, put_many, items, now)

    def remove(self, key: str, namespace: str) -> bool:
        return self._call(False, self.store.remove, key, namespace)

    def contains(self, key: str, namespace: str, now: float) -> bool:
        return self._call(False, self.store.contains, key, namespace, now)

    def clear(self, namespace: str | None = None) -> int:
        return self._call(0, self.store.clear, namespace, timed=False)

    def purge_expired(self, now: float) -> int:
        return self._call(0, self.store.purge_expired, now, timed=False)

    def keys(self, namespace: str) -> list[str]:
        return self._call([], self.store.keys, namespace, timed=False)

    def __len__(self) -> int:
        return self._call(0, self.store.__len__, timed=False)

    def stats(self) -> list[tuple[str, dict[str, int]]]:
        return self._call([], self.store.stats, timed=False)

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close is not None:
            self._call(None, close, timed=False)

    # -- async twins and cross-process primitives (when the store has them) ------------------

    async def aget(
        self, key: str, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[bytes, float] | None:
        return await self._acall(None, self.store.aget, key, namespace, now, max_age)

    async def aput(
        self, key: str, namespace: str, value: bytes, now: float, ttl: float | None = None
    ) -> tuple[bool, int]:
        return await self._acall((False, 0), self.store.aput, key, namespace, value, now, ttl)

    async def alookup(
        self, schema: Any, request: Any, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[str, bytes | None, float]:
        key = schema.key(request)  # keying errors propagate
        found = await self.aget(key, namespace, now, max_age)
        return (key, None, 0.0) if found is None else (key, found[0], found[1])

    def try_lead(self, namespace: str, key: str, ttl_s: float) -> str | None:
        """A token (lead), None (another caller leads) or ``""`` on a fault: the store could not
        say, and the caller calls the provider itself."""
        return self._call("", self.store.try_lead, namespace, key, ttl_s)

    def end_lead(self, namespace: str, key: str, token: str) -> bool:
        return self._call(False, self.store.end_lead, namespace, key, token)

    def extend_lead(self, namespace: str, key: str, token: str, ttl_s: float) -> bool:
        return self._call(False, self.store.extend_lead, namespace, key, token, ttl_s)

    def wait_for(self, namespace: str, key: str, now: float, timeout_s: float) -> tuple[bytes, float] | None:
        """None at once on a fault: the caller then tries to lead or calls the provider itself."""
        return self._call(None, self.store.wait_for, namespace, key, now, timeout_s, timed=False)

    async def await_for(self, namespace: str, key: str, now: float, timeout_s: float) -> tuple[bytes, float] | None:
        if not self._admit():
            return None
        try:
            result = await self.store.await_for(namespace, key, now, timeout_s)
        except Exception as exc:
            self._failed(type(exc).__name__, error=True)
            return None
        self._succeeded(None)
        return result

    def subscribe_invalidations(self, callback: Callable[[str | None, str | None], None], **options: Any) -> Any:
        """Passed through: the listener thread reconnects by itself."""
        return self.store.subscribe_invalidations(callback, **options)
