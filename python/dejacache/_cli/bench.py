"""``dejacache bench``: a cache-throughput workload on the embedded default.

A stream of chat requests drawn from a pool of distinct prompts with a Zipf law (a few prompts
are asked very often, most rarely: the shape of real traffic) goes through ``Cache.call`` in
front of a simulated LLM that answers after a fixed latency. The run reports the hit rate,
hit and miss latency, and then the raw hit throughput of ``Cache.get`` on the filled cache.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from .workload_topics import TOPICS

HELP = "run a cache-throughput workload against a simulated LLM and report latency and hit rate"

# The chat workload's twelve topics, as they always were ("testing" where the semantic one says
# "unit testing"), so its request pool and its figures stay the same.
_TOPICS = [*TOPICS[:11], "testing"]
_ASKS = [
    "Explain {t} to a new engineer.",
    "What are common mistakes in {t}?",
    "Give three interview questions about {t}.",
    "Summarise the history of {t}.",
    "How do I get better at {t} in a month?",
    "Compare two approaches in {t}.",
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workload",
        choices=("chat", "semantic"),
        default="chat",
        help="chat: exact repeats (default); semantic: paraphrased repeats through a semantic cache",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="requests in the stream (default 20000; 2000 for --workload semantic)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="semantic workload: similarity threshold (default: the cache's default)",
    )
    parser.add_argument(
        "--embedder",
        choices=("default", "hashing"),
        default="default",
        help="semantic workload: the default embedder, or the hashing fallback",
    )
    parser.add_argument("--unique", type=int, default=2_000, help="distinct prompts in the pool (default 2000)")
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of prompt popularity (default 1.1)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="simulated LLM latency (default 20 ms)")
    parser.add_argument("--concurrency", type=int, default=8, help="caller threads (default 8)")
    parser.add_argument(
        "--get-loops",
        type=int,
        default=None,
        help="Cache.get calls in the hit-throughput phase (200000; 20000 with --store)",
    )
    parser.add_argument(
        "--store",
        default=None,
        help="run against this store (sqlite:///b.db, redis://host:6379/0, postgresql://..., os.environ/NAME) "
        "instead of in-process memory; uses and clears the namespace 'dejacache-bench' only",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--report", type=Path, default=Path("dejacache-bench.json"), help="JSON report path")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def make_requests(unique: int, seed: int) -> list[dict[str, Any]]:
    """A pool of distinct ~1 KB chat requests."""
    rng = random.Random(seed)
    system = (
        "You are a careful assistant for a software company. Answer precisely, cite the "
        "relevant concept by name, and keep the answer under two hundred words. "
    ) * 3
    pool = []
    for i in range(unique):
        ask = rng.choice(_ASKS).format(t=rng.choice(_TOPICS))
        pool.append(
            {
                "model": rng.choice(["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"]),
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": f"{ask} (ticket {i})"},
                ],
                "temperature": rng.choice([0, 0.2, 0.7]),
                "max_tokens": 512,
            }
        )
    return pool


def zipf_stream(n: int, unique: int, s: float, seed: int) -> list[int]:
    rng = random.Random(seed + 1)
    weights = [1.0 / (rank + 1) ** s for rank in range(unique)]
    order = list(range(unique))
    rng.shuffle(order)
    return [order[i] for i in rng.choices(range(unique), weights=weights, k=n)]


class SimulatedLLM:
    """Answers like a chat-completions endpoint after a fixed delay; counts its calls."""

    def __init__(self, latency_s: float):
        self.latency_s = latency_s
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.latency_s)
        text = "A simulated answer. " * 20
        return {
            "id": f"chatcmpl-sim{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200},
        }


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def run_workload(args: argparse.Namespace, progress: Any = None) -> dict[str, Any]:
    from .._cache import Cache

    if args.get_loops is None:
        args.get_loops = 200_000 if getattr(args, "store", None) is None else 20_000
    for name in ("requests", "unique", "concurrency", "get_loops"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1")
    pool = make_requests(args.unique, args.seed)
    stream = zipf_stream(args.requests, args.unique, args.zipf, args.seed)
    store = getattr(args, "store", None)
    cache = Cache(max_entries=max(args.unique, 1), store=store, namespace=BENCH_NAMESPACE)
    if store is not None:
        cache.clear(BENCH_NAMESPACE)  # a run starts cold, whatever an earlier run left
    llm = SimulatedLLM(args.latency_ms / 1000.0)
    hit_lat: list[float] = []
    miss_lat: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        req = pool[stream[i]]
        t0 = time.perf_counter()
        resp = cache.call(req, llm)
        dt = time.perf_counter() - t0
        with lock:
            (hit_lat if resp.get("cache") else miss_lat).append(dt)
        if progress is not None:
            progress()

    t_start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as ex:
        list(ex.map(one, range(args.requests)))
    wall = time.perf_counter() - t_start

    st = cache.stats()  # before the throughput phase, whose hits would inflate the savings

    # Raw hit throughput: one thread, a tight loop of Cache.get over stored requests.
    stored = [pool[i] for i in sorted(set(stream))]
    loops = args.get_loops
    get = cache.get
    t0 = time.perf_counter()
    for i in range(loops):
        get(stored[i % len(stored)])
    get_wall = time.perf_counter() - t0

    if store is not None:
        cache.clear(BENCH_NAMESPACE)
        cache.close()
    hit_lat.sort()
    miss_lat.sort()
    us = 1e6
    return {
        "store": "in-process memory" if store is None else _shown_store(store),
        "store_errors": st.get("store_errors", 0),
        "workload": {
            "requests": args.requests,
            "unique": args.unique,
            "zipf": args.zipf,
            "latency_ms": args.latency_ms,
            "concurrency": args.concurrency,
            "seed": args.seed,
        },
        "hit_rate": len(hit_lat) / args.requests,
        "llm_calls": llm.calls,
        "wall_s": wall,
        "requests_per_s": args.requests / wall,
        "hit_latency_us": {
            "p50": percentile(hit_lat, 0.5) * us,
            "p99": percentile(hit_lat, 0.99) * us,
            "mean": statistics.fmean(hit_lat) * us if hit_lat else 0.0,
        },
        "miss_latency_us": {
            "p50": percentile(miss_lat, 0.5) * us,
            "p99": percentile(miss_lat, 0.99) * us,
            "mean": statistics.fmean(miss_lat) * us if miss_lat else 0.0,
        },
        "get_hits_per_s": loops / get_wall,
        "get_us_per_hit": get_wall / loops * us,
        "provider_latency_saved_s": st["latency_saved_s"],
        "cache": {k: st[k] for k in ("hits", "misses", "stores", "coalesced", "entries", "bytes")},
    }


BENCH_NAMESPACE = "dejacache-bench"


def _shown_store(url: str) -> str:
    from ..stores import resolve_secret
    from .cache import safe_url

    return safe_url(str(resolve_secret(url, "--store")))


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    where = report.get("store", "in-process memory")
    title = "embedded default (in-process memory)" if where == "in-process memory" else f"store {where}"
    table = Table(title=f"dejacache bench: exact cache, {title}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    w = report["workload"]
    table.add_row("requests / distinct prompts", f"{w['requests']} / {w['unique']} (zipf {w['zipf']})")
    table.add_row("simulated LLM latency", f"{w['latency_ms']:.1f} ms, {w['concurrency']} threads")
    table.add_row("hit rate", f"{report['hit_rate']:.1%}")
    table.add_row("LLM calls made", str(report["llm_calls"]))
    table.add_row(
        "hit latency p50 / p99 (call)",
        f"{report['hit_latency_us']['p50']:.1f} / {report['hit_latency_us']['p99']:.1f} us",
    )
    table.add_row(
        "miss latency p50 / p99 (call)",
        f"{report['miss_latency_us']['p50'] / 1000:.2f} / {report['miss_latency_us']['p99'] / 1000:.2f} ms",
    )
    table.add_row("requests/s (whole stream)", f"{report['requests_per_s']:,.0f}")
    table.add_row(
        "hits/s (Cache.get, 1 thread)", f"{report['get_hits_per_s']:,.0f} ({report['get_us_per_hit']:.2f} us/hit)"
    )
    table.add_row("provider time saved", f"{report['provider_latency_saved_s']:.1f} s")
    if report.get("store_errors"):
        table.add_row("store errors (answered by the provider)", str(report["store_errors"]))
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    if args.requests is None:
        args.requests = 2_000 if args.workload == "semantic" else 20_000
    if args.workload == "semantic":
        if getattr(args, "store", None) is not None:
            raise SystemExit("--store applies to the chat workload (the exact cache)")
        from .bench_semantic import print_semantic_report, run_semantic

        report = run_semantic(args)
        print_semantic_report(report)
        args.report.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        print(f"report written to {args.report}")
        return 0
    if args.no_progress:
        report = run_workload(args)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as bar:
            task = bar.add_task("requests", total=args.requests)
            report = run_workload(args, progress=lambda: bar.advance(task))
    print_report(report)
    args.report.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"report written to {args.report}")
    return 0
