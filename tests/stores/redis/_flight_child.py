"""A worker process for the cross-process single-flight tests: one ``Cache.call`` (or ``acall``)
on a shared store, started at an agreed wall-clock time; prints one JSON line per event."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import dejacache

REQ = {"model": "m", "messages": [{"role": "user", "content": "one provider call, please"}]}


def say(**event: object) -> None:
    print(json.dumps(event), flush=True)


def main() -> None:
    url, start_at, lease_s, mode, name = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
    l1 = "l1" in mode
    cache = (
        dejacache.Cache(max_entries=100, next_cache=dejacache.Cache(store=url)) if l1 else dejacache.Cache(store=url)
    )
    assert cache.shared_flights is not None
    cache.shared_flights.lease_s = lease_s
    hang = "hang" in mode

    def provider(request: dict) -> dict:
        say(event="provider", name=name)
        time.sleep(3600 if hang else 0.4)
        return {"answer": name}

    async def aprovider(request: dict) -> dict:
        say(event="provider", name=name)
        await asyncio.sleep(3600 if hang else 0.4)
        return {"answer": name}

    time.sleep(max(0.0, start_at - time.time()))
    started = time.monotonic()
    if "async" in mode:
        got = asyncio.run(cache.acall(REQ, aprovider))
    else:
        got = cache.call(REQ, provider)
    say(event="answer", name=name, got=got, took=time.monotonic() - started)
    if l1:  # the answer is in this process's L1 too
        say(event="l1", entries=len(cache))


if __name__ == "__main__":
    main()
