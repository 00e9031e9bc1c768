"""Cache(store="redis://..."): shared between caches, and failing open when the server stops."""

from __future__ import annotations

import os
import signal
import time

import dejacache

REQ = {"model": "m", "messages": [{"role": "user", "content": "shared?"}]}


def test_two_caches_share_one_redis(standalone):
    url = f"redis://127.0.0.1:{standalone.port}/3"
    a, b = dejacache.Cache(store=url), dejacache.Cache(store=url)
    a.clear()
    assert a.call(REQ, lambda r: {"a": 1}) == {"a": 1}
    assert b.call(REQ, lambda r: {"a": 2}) == {"a": 1, "cache": True}
    assert b.get(REQ, namespace="other") is None


def test_a_stalled_server_makes_misses_within_the_timeout(fresh_server):
    cache = dejacache.Cache(store=f"redis://127.0.0.1:{fresh_server.port}/0")
    cache.put(REQ, {"a": 1})
    os.kill(fresh_server.proc.pid, signal.SIGSTOP)
    try:
        start = time.perf_counter()
        assert cache.call(REQ, lambda r: {"a": "provider"}) == {"a": "provider"}
        assert time.perf_counter() - start < 3.0
        assert cache.stats()["store_errors"] >= 1
    finally:
        os.kill(fresh_server.proc.pid, signal.SIGCONT)
