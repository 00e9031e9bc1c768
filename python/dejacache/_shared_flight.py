"""Single-flight across processes: concurrent identical misses in different processes (or hosts)
sharing one store make one provider call.

The store holds a short-lived lock per ``(namespace, key)`` (``try_lead`` / ``end_lead`` /
``wait_for``, plus ``extend_lead``; ``RedisStore``, ``SQLiteStore`` and ``SQLStore`` have them). The caller that
takes the lock leads: it checks the store once more (a previous leader may have stored and left
between this caller's miss and its lock), calls the provider, stores the answer and releases the
lock. The others wait for the leader's entry and answer with it. A leader's lock lives
``lease_s`` seconds and is extended every ``lease_s / 3`` while the leader works (one daemon
thread per process), so a slow provider keeps its lock and a leader that dies (SIGKILL, OOM,
a lost host) releases it by expiry within ``lease_s``: a waiter then takes over.

A streamed miss outlives the call that starts it, so it cannot run inside ``run``:
``lead_or_wait`` hands it a ``Lead`` to end once its stream is over (and its answer stored), kept
alive only while the stream makes progress; a waiter replays the entry the leader stored.

Fail-open: a store fault never fails the call. When the store cannot say who leads (a fault,
a timeout, an open breaker), the caller calls the provider itself; a waiter whose wait ends
without an entry (the leader failed or stored nothing) tries to lead, at most ``ATTEMPTS``
times, then calls the provider itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, TypeVar

log = logging.getLogger("dejacache")

#: How many times a waiter whose leader left no entry tries to lead before calling on its own.
ATTEMPTS = 3
#: ``try_lead``'s answer when the store could not say (a fault): lead without a lock.
FAULT = ""

#: what a flight produces: the cache's (response, stored bytes), or a caller's own outcome
Outcome = TypeVar("Outcome")


def store_has(store: Any, *names: str) -> bool:
    """True when ``store`` (or the store a ``GuardedStore`` wraps: the guard forwards every
    method, whether the store has it or not) has every method named."""
    inner = getattr(store, "store", store) if type(store).__name__ == "GuardedStore" else store
    return all(callable(getattr(inner, name, None)) for name in names)


def lock_capable(store: Any) -> bool:
    """True when ``store`` keeps flight locks."""
    return store_has(store, "try_lead", "end_lead", "wait_for", "extend_lead")


def _safe(fallback: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """A lock operation on an unguarded store: its exception is a fault, never the caller's."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - fail-open
        log.debug("dejacache: flight lock operation %s failed: %r", getattr(fn, "__name__", fn), exc)
        return fallback


class Leases:
    """Keeps held locks alive: one daemon thread extends each every ``lease_s / 3``."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Fresh state; also in a forked child, which holds no lock of its parent's and must not
        inherit a lock the parent's lease thread held at the fork."""
        self._lock = threading.Lock()
        # token -> (store, namespace, key, lease_s, when its next extension is due)
        self._held: dict[str, tuple[Any, str, str, float, float]] = {}
        # token -> whether to go on extending (a streamed lead: while its stream makes progress)
        self._keep: dict[str, Callable[[], bool]] = {}
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def hold(
        self, store: Any, namespace: str, key: str, token: str, lease_s: float, keep: Callable[[], bool] | None = None
    ) -> None:
        """Extends the lock every ``lease_s / 3`` until ``drop(token)``, or, with ``keep``, until
        ``keep()`` is false (then the lock expires; ``keep`` is how a lead that may be ended from a
        finalizer lets go without taking this object's lock)."""
        with self._lock:
            self._held[token] = (store, namespace, key, lease_s, time.monotonic() + lease_s / 3)
            if keep is not None:
                self._keep[token] = keep
            if self._thread is None or not self._thread.is_alive():  # none yet, or lost in a fork
                self._thread = threading.Thread(target=self._run, name="dejacache-leases", daemon=True)
                self._thread.start()
            self._wake.notify()

    def drop(self, token: str) -> None:
        with self._lock:
            self._held.pop(token, None)
            self._keep.pop(token, None)

    def __len__(self) -> int:
        return len(self._held)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._held:
                    self._wake.wait()
                now = time.monotonic()
                due = [(t, h) for t, h in self._held.items() if h[4] <= now]
                if not due:
                    self._wake.wait(min(h[4] for h in self._held.values()) - now)
                    continue
                extend = []
                for token, (store, namespace, key, lease_s, _) in due:
                    keep = self._keep.get(token)
                    if keep is not None and not keep():  # ended, or its stream stalled: let it expire
                        del self._held[token], self._keep[token]
                        continue
                    self._held[token] = (store, namespace, key, lease_s, now + lease_s / 3)
                    extend.append((token, (store, namespace, key, lease_s)))
            for token, (store, namespace, key, lease_s) in extend:
                if not _safe(False, store.extend_lead, namespace, key, token, lease_s):
                    # Lost (expired while this process stalled, or a fault): another caller may lead now.
                    log.debug("dejacache: flight lock of %s in %r not extended", key, namespace)


_leases = Leases()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_leases._reset)


class SharedFlights:
    """Cross-process single-flight on ``store`` (see the module docstring).

    ``lease_s``: how long a lock outlives a leader that stops extending it (a dead leader's
    waiters take over after at most this). ``wait_s``: the longest a waiter waits for a leader
    that keeps its lock before calling the provider itself.
    """

    def __init__(self, store: Any, lease_s: float = 10.0, wait_s: float = 600.0) -> None:
        self.store = store
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.leases = _leases

    def __repr__(self) -> str:
        return f"SharedFlights({self.store!r}, lease_s={self.lease_s}, wait_s={self.wait_s})"

    @contextlib.contextmanager
    def exclusive(self, namespace: str, key: str, timeout_s: float = 5.0) -> Iterator[bool]:
        """Holds the store's lock on ``(namespace, key)`` around a short read-modify-write that
        processes sharing the store must not interleave (waiting up to ``timeout_s`` for it).
        Yields whether it holds the lock: False when the store could not say or the lock stayed
        taken, and the caller goes on unguarded (fail-open: a cache never stops its caller)."""
        store = self.store
        deadline = time.monotonic() + timeout_s
        while True:
            token = _safe(FAULT, store.try_lead, namespace, key, self.lease_s)
            if token is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        try:
            yield bool(token)
        finally:
            if token:
                _safe(False, store.end_lead, namespace, key, token)

    def _recheck(self, namespace: str, key: str, now: float, max_age: float | None) -> bytes | None:
        store = self.store
        if not _safe(False, store.contains, key, namespace, now):  # contains() counts no read
            return None
        found = _safe(None, store.get, key, namespace, now, max_age)
        return None if found is None else found[0]

    def run(
        self,
        namespace: str,
        key: str,
        now: float,
        max_age: float | None,
        produce: Callable[[], Outcome],
        adopt: Callable[[bytes], Outcome | None],
    ) -> Outcome:
        """``produce()`` (the provider call, storing its answer) under the store's lock, or
        ``adopt(value)`` of the entry another process's leader stored (None: unreadable, so
        ``produce()`` after all)."""
        store = self.store
        for _ in range(ATTEMPTS):
            token = _safe(FAULT, store.try_lead, namespace, key, self.lease_s)
            if token == FAULT:
                break
            if token is not None:
                self.leases.hold(store, namespace, key, token, self.lease_s)
                try:
                    blob = self._recheck(namespace, key, now, max_age)
                    adopted = None if blob is None else adopt(blob)
                    return adopted if adopted is not None else produce()
                finally:
                    self.leases.drop(token)
                    _safe(False, store.end_lead, namespace, key, token)
            found = _safe(None, store.wait_for, namespace, key, now, self.wait_s)
            adopted = None if found is None else adopt(found[0])
            if adopted is not None:
                return adopted
        return produce()

    async def arun(
        self,
        namespace: str,
        key: str,
        now: float,
        max_age: float | None,
        produce: Callable[[], Awaitable[Outcome]],
        adopt: Callable[[bytes], Outcome | None],
    ) -> Outcome:
        """``run`` for asyncio: the store's lock operations run off the event loop."""
        store = self.store
        to_thread = asyncio.to_thread
        for _ in range(ATTEMPTS):
            token = await to_thread(_safe, FAULT, store.try_lead, namespace, key, self.lease_s)
            if token == FAULT:
                break
            if token is not None:
                self.leases.hold(store, namespace, key, token, self.lease_s)
                try:
                    blob = await to_thread(self._recheck, namespace, key, now, max_age)
                    adopted = None if blob is None else adopt(blob)
                    return adopted if adopted is not None else await produce()
                finally:
                    self.leases.drop(token)
                    await to_thread(_safe, False, store.end_lead, namespace, key, token)
            found = await self._await_entry(namespace, key, now)
            adopted = None if found is None else adopt(found[0])
            if adopted is not None:
                return adopted
        return await produce()

    async def _await_entry(
        self, namespace: str, key: str, now: float, timeout_s: float | None = None
    ) -> tuple[bytes, float] | None:
        timeout_s = self.wait_s if timeout_s is None else timeout_s
        # (store_has looks through the fail-open guard, which offers await_for for every store)
        await_for = getattr(self.store, "await_for", None) if store_has(self.store, "await_for") else None
        if await_for is not None:  # polls with the store's async client: no thread held meanwhile
            try:
                return await await_for(namespace, key, now, timeout_s)
            except Exception as exc:  # noqa: BLE001 - fail-open
                log.debug("dejacache: await_for failed: %r", exc)
                return None
        return await asyncio.to_thread(_safe, None, self.store.wait_for, namespace, key, now, timeout_s)

    # -- leads that outlive the call taking them: streamed misses ------------------------------

    def lead_or_wait(
        self,
        namespace: str,
        key: str,
        max_age: float | None,
        stall_s: float,
        waiting: Callable[[], None] | None = None,
    ) -> tuple[Lead | None, bool]:
        """``run`` for a caller whose provider call outlives the function that starts it (a
        stream is read after ``create`` returns), so the lock cannot be held around it:

        - ``(lead, False)``: this caller leads. It calls the provider, calls ``lead.step()`` on
          each chunk, stores the answer, then ``lead.end()``. The lock is extended while the
          stream makes progress (a chunk at least every ``stall_s``), and expires after that.
        - ``(None, True)``: another caller's leader stored the entry: read it from the cache.
        - ``(None, False)``: call the provider without a lock (the store could not say, leaders
          left without an entry ``ATTEMPTS`` times, or ``wait_s`` passed).

        ``waiting()`` is called every ``stall_s / 3`` while a leader elsewhere keeps its lock
        (the SDK wrappers use it to keep this process's own followers waiting).
        """
        steps = self._lead_steps(namespace, key, max_age, stall_s, waiting)
        try:
            op = next(steps)
            while True:
                op = steps.send(op[0](*op[1:]))
        except StopIteration as done:
            return done.value

    async def alead_or_wait(
        self,
        namespace: str,
        key: str,
        max_age: float | None,
        stall_s: float,
        waiting: Callable[[], None] | None = None,
    ) -> tuple[Lead | None, bool]:
        """``lead_or_wait`` for asyncio: the store's operations run off the event loop (a wait
        for an entry is awaited with the store's async client when it has one)."""
        steps = self._lead_steps(namespace, key, max_age, stall_s, waiting)
        try:
            op = next(steps)
            while True:
                if op[0] == self._wait_entry:
                    result = await self._await_entry(*op[1:])
                else:
                    result = await asyncio.to_thread(*op)
                op = steps.send(result)
        except StopIteration as done:
            return done.value

    def _lead_steps(
        self,
        namespace: str,
        key: str,
        max_age: float | None,
        stall_s: float,
        waiting: Callable[[], None] | None,
    ) -> Generator[tuple, Any, tuple[Lead | None, bool]]:
        """The steps of ``lead_or_wait``, for both callers: each store operation is yielded as
        ``(function, *args)`` for the caller to run (inline, or off the event loop) and send back."""
        store = self.store
        slice_s, begun, now = self._slice(stall_s), time.monotonic(), time.time()
        misses = 0
        while misses < ATTEMPTS:
            token = yield (_safe, FAULT, store.try_lead, namespace, key, self.lease_s)
            if token == FAULT:
                break
            clock = now + time.monotonic() - begun
            if token is not None:
                lead = self._lead(namespace, key, token, stall_s)
                if (yield (self._recheck, namespace, key, clock, max_age)) is None:
                    return lead, False
                yield (lead.end,)  # a previous leader stored and left between this caller's miss and its lock
                return None, True
            wait = min(slice_s, begun + self.wait_s - time.monotonic())
            if wait <= 0:
                break
            started = time.monotonic()
            if (yield (self._wait_entry, namespace, key, clock, wait)) is not None:
                return None, True
            if time.monotonic() - started < wait:  # the lock went without an entry (or a fault)
                misses += 1
            elif waiting is not None:
                waiting()
        return None, False

    def _wait_entry(self, namespace: str, key: str, now: float, timeout_s: float) -> tuple[bytes, float] | None:
        return _safe(None, self.store.wait_for, namespace, key, now, timeout_s)

    def _slice(self, stall_s: float) -> float:
        """How long one wait lasts before the waiter looks again (and reports it still waits)."""
        return max(0.05, min(self.wait_s, stall_s / 3))

    def _lead(self, namespace: str, key: str, token: str, stall_s: float) -> Lead:
        lead = Lead(self.store, namespace, key, token, stall_s)
        self.leases.hold(self.store, namespace, key, token, self.lease_s, lead.keep)
        return lead


class Lead:
    """A flight lock held past the call that took it (see ``SharedFlights.lead_or_wait``).

    The lease thread extends it while ``step()`` was called within ``stall_s`` and ``end()`` was
    not. ``end()`` releases the lock at once; ``end(release=False)`` only stops the extensions, so
    the lock expires within the lease: what a finalizer may do, since it must not do store I/O
    (it may run inside one of the store's own locked sections).
    """

    __slots__ = ("store", "namespace", "key", "token", "stall_s", "last", "ended")

    def __init__(self, store: Any, namespace: str, key: str, token: str, stall_s: float) -> None:
        self.store, self.namespace, self.key, self.token = store, namespace, key, token
        self.stall_s = stall_s
        self.last = time.monotonic()
        self.ended = False

    def step(self) -> None:
        self.last = time.monotonic()

    def keep(self) -> bool:
        return not self.ended and time.monotonic() - self.last < self.stall_s

    def end(self, release: bool = True) -> None:
        if self.ended:
            return
        self.ended = True
        if release:
            _safe(False, self.store.end_lead, self.namespace, self.key, self.token)
