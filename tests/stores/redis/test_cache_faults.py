"""``Cache.call`` on a real redis-server killed (SIGKILL) and stalled (SIGSTOP) under load, with the
cross-process single-flight on: every call gets the provider's answer (never a wrong one) within
the store's timeouts plus the provider's time, and caching resumes when the server returns."""

from __future__ import annotations

import signal
import threading
import time

import dejacache
import pytest

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

PROVIDER_S = 0.005
# Before the breaker opens, a miss may wait on up to four operations (lookup, re-check, lock,
# put), each bounded by the client's 0.25 s socket timeout (0.5 s to connect).
BOUND = 4 * 0.25 + 0.5 + PROVIDER_S + 0.5


class CallLoad:
    def __init__(self, cache: dejacache.Cache, threads: int = 4) -> None:
        self.cache = cache
        self.stop = threading.Event()
        self.slowest = 0.0
        self.wrong: list[object] = []
        self.errors: list[BaseException] = []
        self.hits = 0
        self.calls = 0
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(threads)]
        for t in self.threads:
            t.start()

    def provider(self, request: dict) -> dict:
        time.sleep(PROVIDER_S)
        return {"n": request["n"]}

    def run(self, tid: int) -> None:
        i = tid
        try:
            while not self.stop.is_set():
                n = i % 50
                t0 = time.monotonic()
                got = self.cache.call({"model": "m", "prompt": "load", "n": n}, self.provider)
                self.slowest = max(self.slowest, time.monotonic() - t0)
                self.calls += 1
                if got.get("n") != n:
                    self.wrong.append(got)
                if got.get("cache"):
                    self.hits += 1
                i += 7
        except BaseException as exc:  # noqa: BLE001 - a call must never raise for a store fault
            self.errors.append(exc)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        assert not self.errors, self.errors
        assert not self.wrong, self.wrong[:3]


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.parametrize("fault", ["sigkill", "sigstop"])
def test_calls_survive_a_killed_or_stalled_server_and_caching_resumes(fresh_server, fault):
    cache = dejacache.Cache(store=f"redis://127.0.0.1:{fresh_server.port}/0")
    assert cache.shared_flights is not None
    load = CallLoad(cache)
    assert wait_until(lambda: load.hits > 20, 10)
    if fault == "sigkill":
        fresh_server.kill()
    else:
        fresh_server.signal(signal.SIGSTOP)
    try:
        calls = load.calls
        time.sleep(1.0)
        assert load.calls > calls  # answered by the provider meanwhile
        assert cache.stats()["store_errors"] >= 1
    finally:
        if fault == "sigkill":
            fresh_server.start()  # same port, empty
        else:
            fresh_server.signal(signal.SIGCONT)
    hits = load.hits
    assert wait_until(lambda: load.hits > hits + 20, 15), cache.stats()  # caching resumed
    load.finish()
    print(f"{fault}: {load.calls} calls, slowest {load.slowest:.3f} s, {cache.stats()['store_errors']} store errors")
    assert load.slowest < BOUND, load.slowest
    cache.close()
