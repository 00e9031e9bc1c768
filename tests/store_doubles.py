"""Stores that misbehave, for the tests that the cache survives them: ``SlowSQLite`` stalls every
read and write, ``LockFaultSQLite`` raises on every flight-lock operation. ``longest_gap_during``
watches an event loop for blocking calls: a ticker task measures the longest the loop went
without running it."""

from __future__ import annotations

import asyncio
import time

from dejacache.stores._sqlite import SQLiteStore

STALL = 0.3


async def longest_gap_during(coro):
    """(result, longest gap in seconds between two ticks of a 5 ms ticker, time taken)."""
    gaps = [0.0]
    done = asyncio.Event()

    async def ticker():
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    try:
        result = await coro
    finally:
        took = time.perf_counter() - started
        done.set()
        await task
    return result, max(gaps), took


class SlowSQLite(SQLiteStore):
    """Every read and write stalls STALL seconds, as a disk or a network file system may."""

    def get(self, *a, **kw):
        time.sleep(STALL)
        return super().get(*a, **kw)

    def put(self, *a, **kw):
        time.sleep(STALL)
        return super().put(*a, **kw)

    def contains(self, *a, **kw):
        time.sleep(STALL)
        return super().contains(*a, **kw)


class LockFaultSQLite(SQLiteStore):
    """A store object whose flight-lock operations raise (an unguarded store on a failing disk)."""

    def try_lead(self, *a):
        raise OSError("disk on fire")

    def wait_for(self, *a):
        raise OSError("disk on fire")
