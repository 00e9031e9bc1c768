"""Async streamed calls do no store I/O on the event loop: a store on a disk or a server is
read, written and its flight lock released from worker threads (``SlowSQLite`` stalls every
read and write; a ticker task measures the longest the loop went without running it)."""

from __future__ import annotations

import asyncio

import pytest
from store_doubles import STALL, SlowSQLite, longest_gap_during

openai = pytest.importorskip("openai")

import dejacache  # noqa: E402

MSGS = [{"role": "user", "content": "keep the loop running while you stream"}]
pytestmark = pytest.mark.timeout(30)


def aoai(provider, cache):
    return dejacache.wrap(openai.AsyncOpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache)


async def streamed(client):
    stream = await client.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    return text, stream.cache


def test_a_streamed_miss_and_its_replay_leave_the_loop_free(provider, tmp_path):
    cache = dejacache.Cache(store=SlowSQLite(str(tmp_path / "slow.db")))
    client = aoai(provider, cache)

    async def run():
        return await longest_gap_during(streamed(client)), await longest_gap_during(streamed(client))

    ((live, live_cached), miss_gap, miss_took), ((replay, replay_cached), hit_gap, hit_took) = asyncio.run(run())
    assert live and live == replay and live_cached is False and replay_cached is True
    assert provider.total() == 1
    assert miss_took >= 2 * STALL and hit_took >= STALL  # the store did stall (read + write, read)
    assert miss_gap < 0.1 and hit_gap < 0.1, (miss_gap, hit_gap)


def test_a_call_cancelled_while_its_plan_is_read_leaves_no_flight_behind(provider, tmp_path):
    cache = dejacache.Cache(store=SlowSQLite(str(tmp_path / "slow.db")))
    client = aoai(provider, cache)

    async def run():
        task = asyncio.create_task(streamed(client))
        await asyncio.sleep(STALL / 3)  # the store read is under way on its thread
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(STALL)  # the thread finishes: its plan led this process's flight
        flights_left = len(cache.stream_flights)
        return flights_left, await asyncio.wait_for(streamed(client), STALL * 10)

    flights_left, (text, cached) = asyncio.run(run())
    assert flights_left == 0  # ended for nobody: an identical call does not wait for it
    assert text and cached is False and provider.total() == 1
