"""Single-flight: concurrent identical misses make one provider call; the rest wait for it.

The leader's outcome is shared: its stored bytes (each waiter decodes its own copy, so no two
callers share a mutable response), or the response object itself when it could not be encoded,
or its exception, which reaches every waiter and is never stored.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, Hashable

#: What a leader produces: (response, stored bytes or None).
Outcome = tuple[Any, "bytes | None"]


class _Flight:
    __slots__ = ("done", "outcome", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None


class ThreadFlights:
    """Single-flight across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}

    def run(self, key: Hashable, produce: Callable[[], Outcome], join: bool = True) -> tuple[Outcome, bool]:
        """Runs ``produce`` unless an identical call is under way; returns (outcome, led)."""
        with self._lock:
            flight = self._flights.get(key) if join else None
            led = flight is None
            if led:
                flight = _Flight()
                self._flights.setdefault(key, flight)
        if not led:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.outcome, False
        try:
            flight.outcome = produce()
            return flight.outcome, True
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()

    def __len__(self) -> int:
        return len(self._flights)


class _LeaderCancelled(Exception):
    """The leading task was cancelled: a waiter takes over instead of failing."""


class AsyncFlights:
    """Single-flight across tasks of one event loop (each loop has its own flights)."""

    def __init__(self) -> None:
        self._futures: dict[tuple[int, Hashable], asyncio.Future] = {}

    async def run(
        self, key: Hashable, produce: Callable[[], Awaitable[Outcome]], join: bool = True
    ) -> tuple[Outcome, bool]:
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        while join:
            fut = self._futures.get(slot)
            if fut is None:
                break
            try:
                return await asyncio.shield(fut), False
            except _LeaderCancelled:
                continue
        fut = loop.create_future()
        registered = self._futures.setdefault(slot, fut) is fut
        try:
            outcome = await produce()
        except asyncio.CancelledError:
            fut.set_exception(_LeaderCancelled())
            fut.exception()  # marks it retrieved: no "never retrieved" warning without waiters
            raise
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()
            raise
        else:
            fut.set_result(outcome)
            return outcome, True
        finally:
            if registered:
                del self._futures[slot]
