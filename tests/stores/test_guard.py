"""GuardedStore: faults become misses and are counted; the circuit breaker opens, skips, probes
and closes; keying errors stay the caller's. (Real redis-server faults: tests/stores/redis/.)"""

from __future__ import annotations

import asyncio
import logging

import pytest
from dejacache import _core
from dejacache.stores._base import EntryStore, StoreUnavailable
from dejacache.stores._guard import GuardedStore

from .store_suite import T0, StoreBehaviour, k


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Flaky:
    """A memory store that raises while ``down`` (and takes ``delay`` clock seconds per call)."""

    def __init__(self, clock: Clock) -> None:
        self.inner = _core.EntryStore()
        self.down = False
        self.calls = 0
        self.delay = 0.0
        self.clock = clock

    def __repr__(self) -> str:
        return "Flaky()"

    def __getattr__(self, name):
        target = getattr(self.inner, name)

        def call(*args, **kwargs):
            self.calls += 1
            self.clock.t += self.delay
            if self.down:
                raise StoreUnavailable("backend down")
            return target(*args, **kwargs)

        return call

    def __len__(self) -> int:
        return self.__getattr__("__len__")()

    async def aget(self, *args):
        return self.__getattr__("get")(*args)

    async def aput(self, *args):
        return self.__getattr__("put")(*args)


class TestGuardedMemoryStore(StoreBehaviour):
    """The guard changes nothing while the store answers."""

    @pytest.fixture
    def make_store(self):
        def make(max_entries=None, max_bytes=None, default_ttl=None, eviction="lru"):
            return GuardedStore(_core.EntryStore(max_entries, max_bytes, default_ttl, eviction))

        return make


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def flaky(clock):
    return Flaky(clock)


def test_faults_answer_as_miss_and_are_counted(flaky, clock):
    g = GuardedStore(flaky, failures_to_open=100, clock=clock)
    schema = _core.KeySchema([])
    req = {"model": "m", "messages": []}
    assert g.put(k(1), "d", b"v", T0) == (True, 0)
    flaky.down = True
    assert g.get(k(1), "d", T0) is None
    assert g.lookup(schema, req, "d", T0) == (schema.key(req), None, 0.0)
    assert g.put(k(2), "d", b"v", T0) == (False, 0)
    assert g.put_many([(k(3), "d", b"v", None)], T0) == 0
    assert g.remove(k(1), "d") is False and g.contains(k(1), "d", T0) is False
    assert g.clear() == 0 and g.purge_expired(T0) == 0 and g.keys("d") == [] and len(g) == 0 and g.stats() == []
    assert asyncio.run(g.aget(k(1), "d", T0)) is None
    assert asyncio.run(g.aput(k(1), "d", b"v", T0)) == (False, 0)
    assert g.guard_stats() == {"store_errors": 13, "store_skipped": 0, "breaker": "closed"}
    flaky.down = False
    assert g.get(k(1), "d", T0) == (b"v", T0)  # nothing was lost


def test_keying_errors_are_the_callers(flaky, clock):
    g = GuardedStore(flaky, clock=clock)
    with pytest.raises(TypeError):
        g.lookup(_core.KeySchema([]), {"model": object()}, "d", T0)
    flaky.down = True
    with pytest.raises(TypeError):  # even while the store is down
        g.lookup(_core.KeySchema([]), {"model": object()}, "d", T0)
    with pytest.raises(TypeError):
        asyncio.run(g.alookup(_core.KeySchema([]), {"model": object()}, "d", T0))
    assert g.guard_stats()["store_errors"] <= 1


def test_breaker_opens_skips_probes_and_closes(flaky, clock, caplog):
    g = GuardedStore(flaky, failures_to_open=3, probe_after_s=10.0, clock=clock)
    flaky.down = True
    with caplog.at_level(logging.WARNING, logger="dejacache.stores"):
        for _ in range(3):
            assert g.get(k(1), "d", T0) is None
        assert g.breaker == "open"
        calls = flaky.calls
        for _ in range(20):
            assert g.get(k(1), "d", T0) is None and g.put(k(1), "d", b"v", T0) == (False, 0)
        assert flaky.calls == calls  # skipped: the backend is not touched
        assert g.guard_stats() == {"store_errors": 3, "store_skipped": 40, "breaker": "open"}
        clock.t += 10.0
        assert g.get(k(1), "d", T0) is None  # the probe fails: open again
        assert flaky.calls == calls + 1 and g.breaker == "open"
        assert g.get(k(1), "d", T0) is None and flaky.calls == calls + 1
        flaky.down = False
        clock.t += 10.0
        assert g.put(k(1), "d", b"v", T0) == (True, 0)  # the probe succeeds: closed
        assert g.breaker == "closed" and g.get(k(1), "d", T0) == (b"v", T0)
    states = [r.getMessage() for r in caplog.records]
    # One warning per state change: open, probing, open, probing, closed.
    assert len(states) == 5, states
    assert "failing" in states[0] and "closed" in states[-1]


def test_one_success_resets_the_consecutive_count(flaky, clock):
    g = GuardedStore(flaky, failures_to_open=3, clock=clock)
    for _ in range(5):
        flaky.down = True
        g.get(k(1), "d", T0)
        g.get(k(1), "d", T0)
        flaky.down = False
        g.get(k(1), "d", T0)
    assert g.breaker == "closed" and g.guard_stats()["store_errors"] == 10


def test_a_slow_store_opens_the_breaker_but_its_answers_are_used(flaky, clock):
    g = GuardedStore(flaky, timeout_s=0.5, failures_to_open=2, clock=clock)
    g.put(k(1), "d", b"v", T0)
    flaky.delay = 0.6
    assert g.get(k(1), "d", T0) == (b"v", T0)
    assert g.get(k(1), "d", T0) == (b"v", T0)
    assert g.breaker == "open" and g.guard_stats()["store_errors"] == 0
    assert g.get(k(1), "d", T0) is None and g.guard_stats()["store_skipped"] == 1


def test_options_are_checked():
    with pytest.raises(ValueError):
        GuardedStore(_core.EntryStore(), failures_to_open=0)
    with pytest.raises(ValueError):
        GuardedStore(_core.EntryStore(), timeout_s=0)
    assert isinstance(GuardedStore(_core.EntryStore()), EntryStore)
