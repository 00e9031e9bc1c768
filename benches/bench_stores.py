"""Persistent entry stores (SQL part): hit latency and bulk writes, against named baselines in one run.

1. SQLite hit at N entries (100k): ``SQLiteStore.get`` by key, and the whole read of a request
   (``lookup``: key the request, read, decode the JSON envelope), against GPTCache's SQLite data
   manager (sqlite scalar store + faiss, its documented path) answering the same requests through
   ``gptcache.adapter.api.get``, when ``pip install gptcache faiss-cpu`` worked.
2. PostgreSQL / MariaDB hit: ``SQLStore.get`` against the raw driver (psycopg 3 / PyMySQL,
   autocommit) running the same ``SELECT`` by primary key on the same table, interleaved.
   The servers are started from the Debian packages (tests/stores/sql/servers.py) unless
   ``--postgres URL`` / ``--mariadb URL`` name running ones.
3. ``put_many`` against ``put`` in a loop, same entries, on SQLite, PostgreSQL, MariaDB, DuckDB.

    python benches/bench_stores.py                     # everything
    python benches/bench_stores.py --entries 20000 --no-gptcache --no-servers
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench_exact import RESPONSE  # noqa: E402 - the same answer as the exact-tier benchmarks
from dejacache import EXCLUDED_PARAMS, _codec, _core  # noqa: E402
from dejacache.stores._sqlite import SQLiteStore  # noqa: E402

NOW = 1_000_000.0


def request(i: int) -> dict:
    return {
        "model": "gpt-4o-mini",
        "temperature": 0,
        "messages": [{"role": "user", "content": f"Question number {i}: what is worth caching?"}],
    }


def p50_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def timed(fn, args_list) -> list[float]:
    out = []
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        out.append(time.perf_counter() - t)
    return out


def bench_sqlite(n: int, queries: int, tmp: str):
    schema = _core.KeySchema(list(EXCLUDED_PARAMS))
    store = SQLiteStore(os.path.join(tmp, "bench.db"))
    keys = [schema.key(request(i)) for i in range(n)]
    t = time.perf_counter()
    for s in range(0, n, 5000):
        part = range(s, min(n, s + 5000))
        store.put_many([(keys[i], "default", _codec.encode(RESPONSE, {"i": i}), None) for i in part], NOW)
    fill = time.perf_counter() - t
    rng = random.Random(1)
    picks = [rng.randrange(n) for _ in range(queries)]
    for i in picks[:200]:  # warm the page cache the way a running service has it
        store.get(keys[i], "default", NOW)
    get = timed(lambda k: store.get(k, "default", NOW + 1), [(keys[i],) for i in picks])

    def read(req):
        _, blob, _ = store.lookup(schema, req, "default", NOW + 2)
        return _codec.decode(blob)[0]

    lookup = timed(read, [(request(i),) for i in picks])
    assert read(request(picks[0])) == RESPONSE
    store.close()
    # The floor: the stdlib driver's SELECT by primary key on the same file (no counters, no checks).
    raw = sqlite3.connect(os.path.join(tmp, "bench.db"), isolation_level=None)
    raw.execute("PRAGMA mmap_size=268435456")  # the store's default, so the floor reads the same way
    sql = "SELECT value, created, expires, last_access FROM dejacache_entries WHERE namespace = ? AND key = ?"
    floor = timed(lambda kb: raw.execute(sql, ("default", kb)).fetchone(), [(bytes.fromhex(keys[i]),) for i in picks])
    raw.close()
    return p50_us(get), p50_us(lookup), fill, p50_us(floor)


def bench_gptcache(n: int, queries: int, tmp: str):
    try:
        import numpy as np
        from gptcache import Cache as GCache
        from gptcache import Config
        from gptcache.adapter.api import get as gget
        from gptcache.manager import CacheBase, VectorBase, get_data_manager
        from gptcache.manager.scalar_data.base import Answer, DataType
        from gptcache.processor.pre import get_prompt
        from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation
    except ImportError as exc:
        return None, f"not measured (GPTCache not installed: {exc.name}; pip install gptcache faiss-cpu)"
    dim = 384  # MiniLM's, as in benches/bench_semantic.py; the vectors come from a table (no model)
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    prompts = [request(i)["messages"][0]["content"] for i in range(n)]
    table = dict(zip(prompts, vecs))
    path = os.path.join(tmp, "gptcache")
    os.makedirs(path, exist_ok=True)
    dm = get_data_manager(
        CacheBase("sqlite", sql_url=f"sqlite:///{path}/sqlite.db"),
        VectorBase("faiss", dimension=dim, index_path=os.path.join(path, "faiss.index")),
        max_size=n + 1,
    )
    g = GCache()
    g.init(
        pre_embedding_func=get_prompt,
        embedding_func=lambda x, **kw: table[x],
        data_manager=dm,
        similarity_evaluation=SearchDistanceEvaluation(),
        config=Config(similarity_threshold=0.9),
    )
    for s in range(0, n, 5000):
        part = prompts[s : s + 5000]
        dm.import_data(
            part,
            [Answer(_codec.encode(RESPONSE).decode(), DataType.STR)] * len(part),
            [table[p] for p in part],
            [None] * len(part),
        )
    picks = [random.Random(1).randrange(n) for _ in range(queries)]
    lat, right = [], 0
    for i in picks:
        t = time.perf_counter()
        answer = gget(prompts[i], cache_obj=g)
        lat.append(time.perf_counter() - t)
        right += answer is not None
    return (p50_us(lat), right / len(picks)), None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=5000)
    ap.add_argument("--gptcache-queries", type=int, default=300)
    ap.add_argument("--server-entries", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=2000, help="entries written by put loop / put_many")
    ap.add_argument("--no-gptcache", action="store_true")
    ap.add_argument("--no-servers", action="store_true")
    ap.add_argument("--postgres")
    ap.add_argument("--mariadb")
    args = ap.parse_args(argv)
    if _core.DEBUG_BUILD:
        print("dejacache is a debug build: reinstall in release mode before benchmarking", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="dejacache-bench-stores-")
    # Registered first, so it runs last: after GPTCache's own exit hook has saved its index there.
    atexit.register(shutil.rmtree, tmp, True)

    print(f"1. SQLite hit at {args.entries:,} entries ({args.queries} random reads)")
    get_us, lookup_us, fill, floor_us = bench_sqlite(args.entries, args.queries, tmp)
    print(
        f"   SQLiteStore.get p50 {get_us:7.1f} us   lookup (key + read + decode) p50 {lookup_us:7.1f} us   "
        f"(filled with put_many in {fill:.1f} s)"
    )
    print(f"   raw sqlite3 SELECT by primary key p50 {floor_us:7.1f} us   ratio get / raw: {get_us / floor_us:.2f}x")
    if not args.no_gptcache:
        theirs, why = bench_gptcache(args.entries, args.gptcache_queries, tmp)
        if theirs is None:
            print(f"   GPTCache sqlite data manager: {why}")
        else:
            print(
                f"   GPTCache sqlite+faiss api.get p50 {theirs[0]:9.1f} us (hit rate {theirs[1]:.0%})   "
                f"ratio GPTCache / dejacache lookup: {theirs[0] / lookup_us:.0f}x"
            )

    from _bench_stores_sql import bench_servers, bench_writes  # noqa: PLC0415 - needs SQLAlchemy

    servers = [] if args.no_servers else bench_servers(args, tmp)
    bench_writes(args, tmp, servers)
    for server in servers:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
