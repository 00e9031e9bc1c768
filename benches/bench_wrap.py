"""Hits through dejacache.wrap(openai.OpenAI) against the unwrapped client and LiteLLM's cache.

Run on a release build (``maturin develop --release``):

    python benches/bench_wrap.py [--calls 2000] [--chunks 200]

All clients talk to the same fake provider on 127.0.0.1 (tests/fake_provider.py), so "unwrapped"
is an HTTP round trip on loopback: the floor of any real provider call. Printed figures are
medians per call (per chunk for streams) and ratios measured in this run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM must not fetch prices

import dejacache  # noqa: E402
import openai  # noqa: E402
from fake_provider import start  # noqa: E402

MSGS = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Explain what an LLM response cache does, in two sentences."},
]


def median_us(fn, n: int) -> float:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


def per_chunk_us(make_stream, n: int) -> tuple[float, int]:
    samples, chunks = [], 0
    for _ in range(n):
        t = time.perf_counter()
        chunks = sum(1 for _ in make_stream())
        samples.append((time.perf_counter() - t) / chunks)
    return statistics.median(samples) * 1e6, chunks


def litellm_figures(url: str, calls: int, stream_calls: int, long_prompt: str) -> tuple[float, float] | None:
    try:
        import litellm
        from litellm.caching.caching import Cache as LiteLLMCache
    except ImportError:
        return None
    litellm.cache = LiteLLMCache()
    litellm.suppress_debug_info = True
    kw = {"model": "openai/gpt-4o", "api_base": url + "/v1", "api_key": "sk-bench", "caching": True}
    litellm.completion(messages=MSGS, **kw)
    hit = median_us(lambda: litellm.completion(messages=MSGS, **kw), calls)
    long_msgs = [{"role": "user", "content": long_prompt}]
    for _ in litellm.completion(messages=long_msgs, stream=True, **kw):
        pass
    time.sleep(0.5)  # LiteLLM stores streamed answers from a background thread
    chunk, _ = per_chunk_us(lambda: litellm.completion(messages=long_msgs, stream=True, **kw), stream_calls)
    return hit, chunk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=200, help="content chunks in the replayed answer")
    parser.add_argument("--no-litellm", action="store_true")
    args = parser.parse_args()

    server = start()
    raw = openai.OpenAI(api_key="sk-bench", base_url=server.url + "/v1", max_retries=0)
    cache = dejacache.Cache()
    wrapped = dejacache.wrap(raw, cache)

    unwrapped = median_us(lambda: raw.chat.completions.create(model="gpt-4o", messages=MSGS), max(50, args.calls // 10))
    wrapped.chat.completions.create(model="gpt-4o", messages=MSGS)
    hit = median_us(lambda: wrapped.chat.completions.create(model="gpt-4o", messages=MSGS), args.calls)
    core = median_us(lambda: cache.get({"model": "gpt-4o", "messages": MSGS}), args.calls)

    # A streamed answer of --chunks content chunks: the fake answers with one chunk per word.
    long_prompt = " ".join(f"w{i}" for i in range(args.chunks))
    long_msgs = [{"role": "user", "content": long_prompt}]
    sdk_chunk, n_live = per_chunk_us(
        lambda: raw.chat.completions.create(model="gpt-4o", messages=long_msgs, stream=True), 20
    )
    for _ in wrapped.chat.completions.create(model="gpt-4o", messages=long_msgs, stream=True):
        pass
    replay_chunk, n_replay = per_chunk_us(
        lambda: wrapped.chat.completions.create(model="gpt-4o", messages=long_msgs, stream=True),
        max(20, args.calls // 20),
    )

    lite = None if args.no_litellm else litellm_figures(server.url, max(50, args.calls // 10), 10, long_prompt)
    server.shutdown()

    print(f"dejacache {dejacache.__version__}, openai {openai.__version__}, Python {sys.version.split()[0]}")
    print("non-streamed chat.completions.create, median per call:")
    print(f"  wrapped OpenAI client, hit      {hit:9.1f} us   (target <= 100 us)")
    print(f"  unwrapped client, loopback HTTP {unwrapped:9.1f} us   ratio {unwrapped / hit:6.1f}x")
    print(f"  Cache.get alone (same request)  {core:9.1f} us")
    if lite:
        print(f"  LiteLLM completion(), hit       {lite[0]:9.1f} us   ratio {lite[0] / hit:6.1f}x")
    print(f"streamed, median per chunk ({n_replay} chunks replayed, {n_live} live):")
    print(f"  wrapped replay of a hit         {replay_chunk:9.2f} us   (target <= 20 us)")
    print(f"  unwrapped SDK stream, loopback  {sdk_chunk:9.2f} us   ratio {sdk_chunk / replay_chunk:6.1f}x")
    if lite:
        print(f"  LiteLLM streamed hit            {lite[1]:9.2f} us   ratio {lite[1] / replay_chunk:6.1f}x")


if __name__ == "__main__":
    main()
