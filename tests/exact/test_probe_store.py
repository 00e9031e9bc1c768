"""A stateful probe of the exact store through ``Cache``: random puts, gets, deletes, clears,
purges and clock moves, checked step by step against a plain Python model of LRU / LFU / FIFO
eviction, ttl and max age, and the max_entries / max_bytes caps (issue 15, "keep finding them").
"""

from __future__ import annotations

import dejacache
from conftest import FakeClock, chat
from dejacache._codec import encode
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from probe_settings import EXAMPLES

REQUESTS = [chat(f"question {i}") for i in range(6)]
NAMESPACES = ["default", "tenant-b"]


class Model:
    """What the store should hold: (namespace, request index) -> entry, plus recency order."""

    def __init__(self, eviction: str, max_entries: int | None, max_bytes: int | None, ttl: float | None):
        self.eviction, self.max_entries, self.max_bytes, self.ttl = eviction, max_entries, max_bytes, ttl
        self.entries: dict[tuple[str, int], dict] = {}
        self.order: list[tuple[str, int]] = []  # most recent first (LRU: reads too; FIFO: writes only)
        self.tick = 0

    def _remove(self, slot):
        del self.entries[slot]
        self.order.remove(slot)

    def purge(self, now: float) -> int:
        gone = [s for s, e in self.entries.items() if e["expires"] <= now]
        for s in gone:
            self._remove(s)
        return len(gone)

    def bytes(self) -> int:
        return sum(e["size"] for e in self.entries.values())

    def put(self, slot, response, now: float, ttl: float | None) -> None:
        ttl = self.ttl if ttl is None else ttl
        size = len(encode(response, None))
        if ttl == 0 or (self.max_bytes is not None and size > self.max_bytes):
            return  # refused: the old entry, if any, stays
        if slot in self.entries:
            self._remove(slot)
        self.tick += 1
        expires = float("inf") if ttl is None else now + ttl
        self.entries[slot] = {
            "response": response,
            "size": size,
            "created": now,
            "expires": expires,
            "hits": 0,
            "tick": self.tick,
        }
        self.order.insert(0, slot)
        self.purge(now)
        while (self.max_entries is not None and len(self.entries) > self.max_entries) or (
            self.max_bytes is not None and self.bytes() > self.max_bytes
        ):
            others = [s for s in self.order if s != slot]
            if not others:
                break
            if self.eviction == "lfu":
                victim = min(others, key=lambda s: (self.entries[s]["hits"], self.entries[s]["tick"]))
            else:
                victim = others[-1]
            self._remove(victim)

    def get(self, slot, now: float, max_age: float | None):
        e = self.entries.get(slot)
        if e is None:
            return None
        if e["expires"] <= now:
            self._remove(slot)
            return None
        if max_age is not None and now - e["created"] > max_age:
            return None
        self.tick += 1
        e["hits"] += 1
        e["tick"] = self.tick
        if self.eviction == "lru":
            self.order.remove(slot)
            self.order.insert(0, slot)
        return e["response"]


seconds = st.one_of(st.none(), st.integers(0, 8), st.sampled_from([0.5, 2.5]))


class CacheMachine(RuleBasedStateMachine):
    @initialize(
        eviction=st.sampled_from(["lru", "lfu", "fifo"]),
        max_entries=st.one_of(st.none(), st.integers(1, 5)),
        max_bytes=st.one_of(st.none(), st.integers(40, 160)),
        ttl=st.one_of(st.none(), st.integers(1, 8)),
    )
    def setup(self, eviction, max_entries, max_bytes, ttl):
        self.clock = FakeClock()
        self.cache = dejacache.Cache(
            max_entries=max_entries, max_bytes=max_bytes, ttl=ttl, eviction=eviction, clock=self.clock
        )
        self.model = Model(eviction, max_entries, max_bytes, ttl)

    @rule(i=st.integers(0, len(REQUESTS) - 1), ns=st.sampled_from(NAMESPACES), size=st.integers(0, 60), ttl=seconds)
    def put(self, i, ns, size, ttl):
        response = "x" * size
        controls = {"namespace": ns} if ttl is None else {"namespace": ns, "ttl": ttl}
        self.cache.put(REQUESTS[i], response, cache=controls)
        self.model.put((ns, i), response, self.clock(), ttl)

    @rule(i=st.integers(0, len(REQUESTS) - 1), ns=st.sampled_from(NAMESPACES), max_age=seconds)
    def get(self, i, ns, max_age):
        controls = {"namespace": ns} if max_age is None else {"namespace": ns, "s-maxage": max_age}
        hit = self.cache.get(REQUESTS[i], cache=controls)
        want = self.model.get((ns, i), self.clock(), max_age)
        assert (None if hit is None else hit.response) == want
        if hit is not None:
            assert hit.namespace == ns

    @rule(dt=st.sampled_from([0.5, 1, 2, 5]))
    def advance(self, dt):
        self.clock.advance(dt)

    @rule(i=st.integers(0, len(REQUESTS) - 1), ns=st.sampled_from(NAMESPACES))
    def delete(self, i, ns):
        existed = (ns, i) in self.model.entries
        if existed:
            self.model._remove((ns, i))
        assert self.cache.delete(REQUESTS[i], namespace=ns) == existed

    @rule(ns=st.one_of(st.none(), st.sampled_from(NAMESPACES)))
    def clear(self, ns):
        gone = [s for s in self.model.entries if ns is None or s[0] == ns]
        for s in gone:
            self.model._remove(s)
        assert self.cache.clear(ns) == len(gone)

    @rule()
    def purge(self):
        assert self.cache.purge_expired() == self.model.purge(self.clock())

    @precondition(lambda self: hasattr(self, "cache"))
    @invariant()
    def same_contents(self):
        assert len(self.cache) == len(self.model.entries)
        assert self.cache._store.bytes == self.model.bytes()
        now = self.clock()
        for ns in NAMESPACES:
            for i, req in enumerate(REQUESTS):
                e = self.model.entries.get((ns, i))
                live = e is not None and e["expires"] > now
                assert self.cache._store.contains(self.cache.key(req), ns, now) == live


CacheMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_cache_matches_the_model = CacheMachine.TestCase
