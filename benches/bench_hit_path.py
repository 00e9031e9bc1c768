"""The exact hit path against its floor, in one run.

The floor is what no exact hit can avoid: keying the request in Rust and probing the store
(one ``EntryStore.lookup`` call) plus ``orjson.loads`` of the stored answer. ``Cache.get`` adds
the controls, the ``Hit`` and the savings bookkeeping; ``Cache.call`` adds single-flight's
setup and marks the answer. Target (issue 9): both within 1.3x of the floor.

    python benches/bench_hit_path.py [--rounds 7] [--number 20000]
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import dejacache
import orjson
from bench_exact import REQ_1K, RESPONSE
from dejacache import _core


def best_us(stmt, number: int, rounds: int) -> float:
    """Median over rounds of the per-call time, in microseconds (min is too kind on a busy box)."""
    times = timeit.repeat(stmt, number=number, repeat=rounds)
    return statistics.median(times) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--number", type=int, default=20_000)
    args = ap.parse_args()

    cache = dejacache.Cache()
    cache.put(REQ_1K, RESPONSE, meta={"latency_s": 0.8, "cost_usd": 0.001, "tokens": 300})
    store = _core.EntryStore(None, None, None, "lru")
    schema = _core.KeySchema(list(dejacache.EXCLUDED_PARAMS))
    key = schema.key(REQ_1K)
    store.put(key, "default", orjson.dumps({"v": 1, "r": RESPONSE, "m": {}}), 0.0)
    loads = orjson.loads
    never = lambda r: None  # noqa: E731 - the provider is never called on a hit

    def floor():
        _, blob, _ = store.lookup(schema, REQ_1K, "default", 1.0, None)
        return loads(blob)

    assert cache.get(REQ_1K) is not None and cache.call(REQ_1K, never)["cache"] is True
    rows = [
        ("floor (lookup + orjson.loads)", best_us(floor, args.number, args.rounds)),
        ("Cache.get", best_us(lambda: cache.get(REQ_1K), args.number, args.rounds)),
        ("Cache.call", best_us(lambda: cache.call(REQ_1K, never), args.number, args.rounds)),
    ]
    base = rows[0][1]
    print(f"exact hit, 1 KB chat request, median of {args.rounds} rounds x {args.number}")
    for name, us in rows:
        print(f"  {name:32s} {us:7.2f} us   {us / base:5.2f}x floor")


if __name__ == "__main__":
    main()
