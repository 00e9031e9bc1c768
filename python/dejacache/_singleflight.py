"""Single-flight: concurrent identical misses make one provider call; the rest wait for it.

The leader's outcome is shared: its stored bytes (each waiter decodes its own copy, so no two
callers share a mutable response), or the response object itself when it could not be encoded,
or its exception, which reaches every waiter and is never stored.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

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
            joined = self._flights.get(key) if join else None
            led = joined is None
            flight = _Flight() if joined is None else joined
            if led:
                self._flights.setdefault(key, flight)
        if not led:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.outcome, False  # type: ignore[return-value]  # set before done
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


# -- streamed misses ------------------------------------------------------------------------


class StreamFlight:
    """One streamed miss under way. Its leader passes chunks to its own caller as they arrive;
    identical calls wait for the stream's end and replay the stored answer, or make their own
    call when the stream failed, was abandoned, or stalls (its caller stopped reading).
    """

    __slots__ = ("owner", "progress", "stored", "_ended", "_lock", "_async_waiters")

    def __init__(self, owner: Hashable) -> None:
        self.owner = owner  # the leader's thread or task: a caller never waits for itself
        self.progress = 0  # chunks passed on so far; only the leader writes it
        self.stored = False
        self._ended = threading.Event()
        # Reentrant: a stream dropped unread ends its flight from a garbage-collector finalizer,
        # which may run on a thread already inside one of these locks.
        self._lock = threading.RLock()
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []

    def step(self) -> None:
        self.progress += 1

    def end(self, stored: bool) -> None:
        """Wakes every waiter, sync or async, whichever thread or loop it waits in."""
        with self._lock:
            if self._ended.is_set():
                return
            self.stored = stored
            self._ended.set()
            waiters, self._async_waiters = self._async_waiters, []
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # that loop has closed: nobody is waiting there any more
                pass

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def wait(self, stall_s: float) -> bool:
        """Blocks until the stream ends (True) or makes no progress for ``stall_s`` (False)."""
        seen = self.progress
        while not self._ended.wait(stall_s):
            if self.progress == seen:
                return False
            seen = self.progress
        return True

    async def await_end(self, stall_s: float) -> bool:
        """``wait`` for asyncio: the event loop stays free meanwhile."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            if self._ended.is_set():
                return True
            self._async_waiters.append((loop, fut))
        seen = self.progress
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(fut), stall_s)
                return True
            except asyncio.TimeoutError:
                if self.progress == seen:
                    with self._lock:
                        if (loop, fut) in self._async_waiters:
                            self._async_waiters.remove((loop, fut))
                    return self._ended.is_set()
                seen = self.progress


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


class StreamFlights:
    """Single-flight for streamed misses, shared by threads and event loops.

    ``stall_s``: how long a follower waits for a leader whose stream shows no progress before
    it makes its own call (a leader's caller may stop reading and keep the stream open).
    """

    stall_s = 30.0

    def __init__(self) -> None:
        self._lock = threading.RLock()  # reentrant for the same reason as StreamFlight's
        self._flights: dict[Hashable, StreamFlight] = {}

    def lead_or_follow(self, key: Hashable, owner: Hashable) -> tuple[StreamFlight, bool]:
        """(the flight under way and False), or (a new flight this caller leads and True)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None and not flight.ended:
                return flight, False
            flight = self._flights[key] = StreamFlight(owner)
            return flight, True

    def end(self, key: Hashable, flight: StreamFlight, stored: bool) -> None:
        """The leader's stream is over: later calls lead their own, waiters wake."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.end(stored)

    def __len__(self) -> int:
        return len(self._flights)
