"""A real redis-server killed (SIGKILL) or stalled (SIGSTOP) under load: every guarded operation
returns (a miss / not stored) within the client's timeout, nothing wrong is served, the breaker
opens, and caching resumes when the server comes back."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import pytest

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

from dejacache.stores._guard import GuardedStore  # noqa: E402
from dejacache.stores._redis import RedisStore  # noqa: E402

from ..store_suite import T0, k  # noqa: E402

SOCKET_TIMEOUT, CONNECT_TIMEOUT = 0.25, 0.5
BOUND = CONNECT_TIMEOUT + SOCKET_TIMEOUT + 0.3  # the slowest a single operation may take (+ slack)


def value_of(i: int) -> bytes:
    return b"answer-%d" % i


class Load:
    """Threads doing gets and puts on a guarded store; records the slowest call and any wrong value."""

    def __init__(self, store: GuardedStore, threads: int = 4) -> None:
        self.store = store
        self.stop = threading.Event()
        self.slowest = 0.0
        self.wrong: list[object] = []
        self.errors: list[BaseException] = []
        self.hits = 0
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, tid: int) -> None:
        i = tid
        try:
            while not self.stop.is_set():
                key = i % 200
                t0 = time.monotonic()
                if i % 3 == 0:
                    self.store.put(k(key), "load", value_of(key), T0)
                else:
                    got = self.store.get(k(key), "load", T0)
                    if got is not None:
                        self.hits += 1
                        if got != (value_of(key), T0):
                            self.wrong.append(got)
                self.slowest = max(self.slowest, time.monotonic() - t0)
                i += 4
        except BaseException as exc:  # noqa: BLE001 - a guarded call must never raise
            self.errors.append(exc)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        assert not self.errors, self.errors
        assert not self.wrong, self.wrong[:3]


def guarded(server, probe_after_s=0.3):
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{server.port}/0", socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT
    )
    return store, GuardedStore(store, failures_to_open=5, probe_after_s=probe_after_s, timeout_s=0.5)


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def hits_resume(g: GuardedStore) -> bool:
    g.put(k(999), "probe", b"p", T0)
    return g.get(k(999), "probe", T0) == (b"p", T0)


def test_sigkill_mid_load_then_restart_on_the_same_port(fresh_server):
    store, g = guarded(fresh_server)
    load = Load(g)
    time.sleep(0.3)
    assert load.hits > 0
    fresh_server.kill()
    assert wait_until(lambda: g.breaker == "open", 5)
    time.sleep(0.5)  # the load keeps running against a dead server
    stats = g.guard_stats()
    assert stats["store_errors"] >= 5 and stats["store_skipped"] > 0
    assert load.slowest < BOUND, load.slowest
    fresh_server.start()  # same port, empty (no persistence)
    assert wait_until(lambda: hits_resume(g), 10), g.guard_stats()
    assert g.breaker == "closed"
    hits = load.hits
    time.sleep(0.3)
    load.finish()
    assert load.hits > hits  # caching resumed under load
    assert load.slowest < BOUND, load.slowest
    store.close()


def test_sigstop_mid_load_then_sigcont(fresh_server):
    store, g = guarded(fresh_server)
    load = Load(g)
    time.sleep(0.3)
    fresh_server.signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        assert g.get(k(1), "load", T0) is None  # the stalled server cannot answer
        assert time.monotonic() - t0 < BOUND
        assert wait_until(lambda: g.breaker == "open", 5)
        time.sleep(0.8)  # probes against the stalled server fail by timeout
        assert load.slowest < BOUND, load.slowest
        assert g.guard_stats()["store_skipped"] > 0
    finally:
        fresh_server.signal(signal.SIGCONT)
    assert wait_until(lambda: hits_resume(g), 10), g.guard_stats()
    hits = load.hits
    time.sleep(0.3)
    load.finish()
    assert load.hits > hits
    assert load.slowest < BOUND, load.slowest
    store.close()


def test_async_calls_on_a_stalled_server_do_not_block_the_event_loop(fresh_server):
    store, g = guarded(fresh_server)

    async def run():
        assert await g.aput(k(1), "a", b"v", T0) == (True, 0)
        fresh_server.signal(signal.SIGSTOP)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        t0 = time.monotonic()
        assert await g.aget(k(1), "a", T0) is None  # timed out: a miss
        took = time.monotonic() - t0
        task.cancel()
        assert took < BOUND and ticks >= int(took / 0.01) // 2, (took, ticks)
        assert g.guard_stats()["store_errors"] == 1
        await store.aclose()

    try:
        asyncio.run(run())
    finally:
        fresh_server.signal(signal.SIGCONT)
    store.close()


def test_unguarded_store_raises_a_client_error_without_the_password(fresh_server):
    store = RedisStore.from_url(f"redis://user:hunter2-secret@127.0.0.1:{fresh_server.port}/0")
    fresh_server.kill()
    with pytest.raises(Exception) as info:
        store.get(k(1), "d", T0)
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(store)
    store.close()
