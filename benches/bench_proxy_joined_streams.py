"""A streamed request arriving while an identical one streams through the proxy: how long until
its first event, and how many upstream calls, when it joins the live stream (dejacache) against
making a call of its own (what LiteLLM's proxy does: it has no single-flight for streams; here
the same proxy with ``cache: {no-cache: true}`` on the second request, in the same run).

The fake provider streams ``stream-slow`` (one event every ``--event-delay`` seconds); each
round starts a first request, waits for its first event, then times the second one: its first
event, and its whole stream. Rounds alternate the two ways.

    python benches/bench_proxy_joined_streams.py [--rounds 20] [--event-delay 0.05]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx  # noqa: E402
from dejacache.proxy import create_app  # noqa: E402
from fake_provider import start  # noqa: E402
from proxy.proxy_helpers import Proxy, model_list  # noqa: E402

CHAT = "/v1/chat/completions"


def second_request(url: str, body: dict) -> tuple[float, float, str]:
    """(seconds to its first event, seconds to its end, x-dejacache) of one streamed request."""
    first = None
    with httpx.Client(base_url=url, timeout=60) as client:  # made before the clock starts
        start_at = time.perf_counter()
        with client.stream("POST", CHAT, json=body) as resp:
            for line in resp.iter_lines():
                if first is None and line.startswith("data:"):
                    first = time.perf_counter() - start_at
            return first or float("nan"), time.perf_counter() - start_at, resp.headers["x-dejacache"]


def one_round(url: str, own_call: bool) -> tuple[float, float, str]:
    text = f"joined stream {uuid.uuid4().hex}"
    body = {"model": "stream-slow", "messages": [{"role": "user", "content": text}], "stream": True}
    got: dict = {}
    with httpx.Client(base_url=url, timeout=60) as client, client.stream("POST", CHAT, json=body) as first:
        lines = first.iter_lines()
        next(line for line in lines if line.startswith("data:"))  # the first request streams
        second = {**body, "cache": {"no-cache": True}} if own_call else body
        t = threading.Thread(target=lambda: got.update(result=second_request(url, second)))
        t.start()
        for _ in lines:  # the first request reads its stream to the end
            pass
        t.join(60)
    return got["result"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--event-delay", type=float, default=0.05)
    args = parser.parse_args()
    upstream = start()
    upstream.event_delay = args.event_delay
    proxy = Proxy(create_app({"model_list": model_list(upstream.url)}))
    results: dict[bool, list[tuple[float, float, str]]] = {False: [], True: []}
    calls: dict[bool, int] = {False: 0, True: 0}
    try:
        one_round(proxy.url, False)  # warm-up
        for i in range(2 * args.rounds):
            own = bool(i % 2)
            before = upstream.counts[CHAT]
            results[own].append(one_round(proxy.url, own))
            calls[own] += upstream.counts[CHAT] - before
    finally:
        proxy.stop()
        upstream.shutdown()
    print(f"streamed request arriving while an identical one streams; {args.rounds} rounds each, medians")
    print(f"(upstream: one event every {args.event_delay * 1000:.0f} ms)")
    for own, name in ((False, "dejacache: joins the live stream"), (True, "own upstream call (LiteLLM's way)")):
        firsts = [r[0] for r in results[own]]
        totals = [r[1] for r in results[own]]
        headers = sorted({r[2] for r in results[own]})
        print(
            f"  {name:36s} first event {statistics.median(firsts) * 1000:7.1f} ms, whole stream "
            f"{statistics.median(totals) * 1000:7.1f} ms, upstream calls per round {calls[own] / args.rounds:.1f} "
            f"(x-dejacache {', '.join(headers)})"
        )
    ratio = statistics.median([r[0] for r in results[True]]) / statistics.median([r[0] for r in results[False]])
    print(json.dumps({"first_event_own_call_over_joined": round(ratio, 2)}))


if __name__ == "__main__":
    main()
