"""L1 coherence: ``Cache(max_entries=..., next_cache=Cache(store="redis://..."))`` in two processes;
a delete or clear in one reaches the other's memory L1 within milliseconds (Redis pub/sub)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import dejacache
import pytest

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

ENV = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(dejacache.__file__))}
REQ = {"model": "m", "messages": [{"role": "user", "content": "coherent?"}]}

CHILD = """
import sys, time
import dejacache
url = sys.argv[1]
cache = dejacache.Cache(max_entries=100, next_cache=dejacache.Cache(store=url))
req = {"model": "m", "messages": [{"role": "user", "content": "coherent?"}]}
assert cache.get(req) is not None  # the parent's answer, through Redis
input()  # the parent is watching
t = time.perf_counter(); cache.delete(req); print(t, flush=True)
input()
t = time.perf_counter(); cache.clear("tenant-a"); print(t, flush=True)
input()
"""


def watch(predicate, seconds: float = 5.0) -> float:
    """Spins until ``predicate()``; returns perf_counter then (CLOCK_MONOTONIC: comparable across processes)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(0.0005)
    raise AssertionError("the invalidation never arrived")


def test_delete_and_clear_in_one_process_reach_the_other_l1(standalone):
    standalone.cli("flushall")
    url = f"redis://127.0.0.1:{standalone.port}/0"
    cache = dejacache.Cache(max_entries=100, next_cache=dejacache.Cache(store=url))
    cache.put(REQ, {"a": 1})
    cache.put(REQ, {"a": "A"}, namespace="tenant-a")
    cache.put(REQ, {"a": "B"}, namespace="tenant-b")
    assert len(cache) == 3  # three entries in this process's L1
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), url],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write("\n")
        child.stdin.flush()
        sent = float(child.stdout.readline())
        arrived = watch(lambda: REQ not in cache)
        delete_ms = (arrived - sent) * 1000
        assert len(cache) == 2
        child.stdin.write("\n")
        child.stdin.flush()
        sent = float(child.stdout.readline())
        arrived = watch(lambda: len(cache) == 1)
        clear_ms = (arrived - sent) * 1000
        # tenant-b is untouched, in the L1 and below it
        assert cache.get(REQ, namespace="tenant-b").response == {"a": "B"}
        assert cache.get(REQ, namespace="tenant-a") is None and cache.get(REQ) is None
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(30) == 0, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
    print(f"L1 invalidation after delete {delete_ms:.2f} ms, after clear {clear_ms:.2f} ms")
    assert delete_ms < 250 and clear_ms < 250, (delete_ms, clear_ms)


def test_close_stops_following(standalone):
    url = f"redis://127.0.0.1:{standalone.port}/0"

    def subscribers() -> int:
        return int(standalone.cli("pubsub", "numsub", "dejacache:invalidate").split()[1])

    before = subscribers()
    lower = dejacache.Cache(store=url)
    cache = dejacache.Cache(max_entries=10, next_cache=lower)
    assert subscribers() == before + 1
    cache.close()
    deadline = time.monotonic() + 5
    while subscribers() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert subscribers() == before
    lower.close()


def test_a_cache_on_the_shared_store_itself_subscribes_to_nothing(standalone):
    url = f"redis://127.0.0.1:{standalone.port}/0"
    before = standalone.cli("pubsub", "numsub", "dejacache:invalidate").split()
    cache = dejacache.Cache(store=url)
    assert cache.shared_flights is not None
    assert standalone.cli("pubsub", "numsub", "dejacache:invalidate").split() == before
