"""Single-flight on every tier: many concurrent identical calls make exactly one provider call,
round after round (issue 15, item 5).

A delay after each caller's lookups (exact, then semantic and lower levels) widens the window
in which a caller has missed every tier but reaches the flight table after the leader's flight
has ended: such a caller must find the leader's stored answer, not lead a second call.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

import dejacache
import pytest
from conftest import chat, run_threads
from dejacache import Semantic
from dejacache.embedders import HashingEmbedder
from probe_settings import ROUNDS

TIERS = ["exact", "semantic", "next-level"]


class Jittery(dejacache.Cache):
    """A cache whose callers dawdle between their lookups and the flight table."""

    def _begin(self, request, ctl):
        out = super()._begin(request, ctl)
        if out[1] is None:
            time.sleep(random.random() * 0.004)
        return out

    def _beyond_exact(self, request, key, ctl):
        out = super()._beyond_exact(request, key, ctl)
        time.sleep(random.random() * 0.004)
        return out


def make(tier: str) -> dejacache.Cache:
    if tier == "semantic":
        return Jittery(semantic=Semantic(embedder=HashingEmbedder(dim=64), threshold=0.9))
    if tier == "next-level":
        return Jittery(next_cache=dejacache.Cache())
    return Jittery()


class Provider:
    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.calls += 1
        return {"answer": request["messages"][0]["content"]}

    async def acall(self, request):
        return self(request)


@pytest.mark.parametrize("tier", TIERS)
def test_threads_make_one_provider_call_per_round(tier):
    cache = make(tier)
    extra = []
    for r in range(ROUNDS):
        provider = Provider()
        req = chat(f"question number {r} about single flight")
        results = []

        def caller():
            results.append(cache.call(dict(req), provider))

        run_threads(*[(caller,) for _ in range(12)], timeout=60)
        assert all(res["answer"] == req["messages"][0]["content"] for res in results)
        if provider.calls != 1:
            extra.append((r, provider.calls))
    assert not extra, f"rounds with more than one provider call (round, calls): {extra}"


@pytest.mark.parametrize("tier", TIERS)
async def test_tasks_make_one_provider_call_per_round(tier):
    cache = make(tier)
    extra = []
    for r in range(ROUNDS):
        provider = Provider()
        req = chat(f"question number {r} about async single flight")
        results = await asyncio.gather(*[cache.acall(dict(req), provider.acall) for _ in range(100)])
        assert all(res["answer"] == req["messages"][0]["content"] for res in results)
        if provider.calls != 1:
            extra.append((r, provider.calls))
    assert not extra, f"rounds with more than one provider call (round, calls): {extra}"


@pytest.mark.parametrize("tier", TIERS)
def test_a_late_caller_is_served_the_stored_answer(tier):
    """The deterministic form of the hole: the leader stores and ends its flight between a
    caller's misses and its turn at the flight table."""
    cache = make(tier)
    provider = Provider()
    req = chat("the late caller")
    original = cache._flights.run

    def run_after_leader(key, produce, join=True):
        cache._flights.run = original
        cache.call(dict(req), provider)  # another caller leads and finishes meanwhile
        return original(key, produce, join)

    cache._flights.run = run_after_leader
    out = cache.call(dict(req), provider)
    assert provider.calls == 1
    assert out == {"answer": "the late caller", "cache": True}
