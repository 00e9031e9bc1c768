"""``acall`` never blocks the event loop on a store: a stalled redis-server (SIGSTOP) is awaited
through redis.asyncio, and a store without async methods (a slow SQLite here) runs in a thread.
A ticker task measures the longest the loop went without running it."""

from __future__ import annotations

import asyncio
import signal

import dejacache
import pytest
from store_doubles import STALL, SlowSQLite, longest_gap_during

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

REQ = {"model": "m", "messages": [{"role": "user", "content": "keep the loop running"}]}


def test_a_slow_store_without_async_methods_runs_off_the_loop(tmp_path):
    cache = dejacache.Cache(store=SlowSQLite(str(tmp_path / "slow.db")))

    async def provider(request):
        return {"a": 1}

    async def run():
        first = await longest_gap_during(cache.acall(REQ, provider))
        second = await longest_gap_during(cache.acall(REQ, provider))
        return first, second

    (miss, miss_gap, miss_took), (hit, hit_gap, hit_took) = asyncio.run(run())
    assert miss == {"a": 1} and hit == {"a": 1, "cache": True}
    assert miss_took >= 2 * STALL and hit_took >= STALL  # the store did stall
    assert miss_gap < 0.1 and hit_gap < 0.1, (miss_gap, hit_gap)


@pytest.mark.parametrize("levels", ["redis", "l1+redis"])
def test_a_stalled_redis_never_blocks_the_loop(fresh_server, levels):
    url = f"redis://127.0.0.1:{fresh_server.port}/0"
    cache = (
        dejacache.Cache(store=url)
        if levels == "redis"
        else dejacache.Cache(max_entries=100, next_cache=dejacache.Cache(store=url))
    )
    calls = []

    async def provider(request):
        calls.append(1)
        await asyncio.sleep(0.01)
        return {"a": len(calls)}

    async def run():
        assert await cache.acall(REQ, provider) == {"a": 1}
        other = {**REQ, "temperature": 0.5}
        fresh_server.signal(signal.SIGSTOP)
        try:
            return await longest_gap_during(cache.acall(other, provider))
        finally:
            fresh_server.signal(signal.SIGCONT)

    answer, gap, took = asyncio.run(run())
    assert answer == {"a": 2}  # the provider's answer, despite the stalled store
    assert took >= 0.2, took  # it did wait on the store's timeouts...
    assert gap < 0.1, gap  # ...but never on the event loop
    assert took < 3.0, took
