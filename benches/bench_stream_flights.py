"""What single-flight across processes costs a streamed miss: a wrapped OpenAI client streams
unique requests (every one a miss) from the fake provider, on a SQLite file and on a local
redis-server, with the store's flight lock (try_lead, re-check, release) and without it, in
interleaved rounds; prints the medians and their ratio from this run.

    python benches/bench_stream_flights.py [--calls 300]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
logging.getLogger("dejacache").setLevel(logging.ERROR)  # the fake's models have no price

import dejacache  # noqa: E402
import openai  # noqa: E402
from dejacache._cache import Cache  # noqa: E402
from fake_provider import start  # noqa: E402

WITH_LOCK = Cache.shared_flights
WITHOUT_LOCK = property(lambda self: None)  # the baseline: the same cache, flights off


def measure(url: str, provider_url: str, calls: int) -> tuple[float, float]:
    cache = dejacache.Cache(store=url)
    assert cache.shared_flights is not None
    client = dejacache.wrap(openai.OpenAI(api_key="k", base_url=provider_url + "/v1", max_retries=0), cache)

    def miss() -> float:
        msgs = [{"role": "user", "content": uuid.uuid4().hex}]
        start = time.perf_counter()
        list(client.chat.completions.create(model="gpt-4o", messages=msgs, stream=True))
        return time.perf_counter() - start

    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(20):
            miss()  # warm up
        for i in range(calls):
            locked = i % 2 == 1
            Cache.shared_flights = WITH_LOCK if locked else WITHOUT_LOCK  # type: ignore[method-assign]
            times[locked].append(miss())
    finally:
        Cache.shared_flights = WITH_LOCK  # type: ignore[method-assign]
        cache.close()
    return statistics.median(times[True]), statistics.median(times[False])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    provider = start()
    provider.event_delay = 0.0
    work = Path(tempfile.mkdtemp())
    stores = {"sqlite": f"sqlite:///{work / 'flights.db'}"}
    server = None
    try:
        from stores.redis.servers import REDIS_SERVER, RedisServer

        if REDIS_SERVER is not None:
            server = RedisServer(work / "redis")
            stores["redis"] = f"redis://127.0.0.1:{server.port}/0"
    except ImportError:
        pass
    try:
        for name, url in stores.items():
            locked, free = measure(url, provider.url, args.calls)
            print(
                f"{name:7s} streamed miss p50: with the lock {locked * 1e3:.2f} ms, without {free * 1e3:.2f} ms"
                f" (+{(locked - free) * 1e3:.2f} ms, {locked / free:.2f}x)"
            )
    finally:
        if server is not None:
            server.stop()
        provider.shutdown()


if __name__ == "__main__":
    main()
