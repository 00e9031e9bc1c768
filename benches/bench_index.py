"""VectorIndex against hnswlib, usearch, faiss and numpy on clustered 384-d data, one run.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benches/bench_index.py --n 20000

Every library gets the same vectors and queries. Queries are issued one per call on one thread
(the semantic cache's access pattern); queries/s is per second of CPU time (best of three at
the chosen ef), build times are wall-clock. Graph indexes use M=16, ef_construction=200; each is
reported at the smallest ef of a sweep whose recall@10 reaches the target (default 0.95).
bytes/vector is each library's own accounting (dejacache.memory_bytes, usearch.memory_usage,
hnswlib's file size, faiss's serialised size, the numpy array's nbytes).
Needs: pip install hnswlib usearch faiss-cpu (missing peers are skipped).
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time

import numpy as np
from dejacache import VectorIndex

EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256]


def clustered(n, q, dim, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 100, 10), dim)).astype(np.float32)

    def draw(count):
        x = centres[rng.integers(0, len(centres), count)] + rng.standard_normal((count, dim)).astype(np.float32)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    return draw(n), draw(q)


def exact_top(data, queries, k):
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), 256):
        sims = queries[s : s + 256] @ data.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, 1), axis=1)
        out[s : s + 256] = np.take_along_axis(part, order, 1)
    return out


def recalls(found, truth):
    r1 = float(np.mean([truth[i, 0] in found[i, :1] for i in range(len(truth))]))
    r10 = float(np.mean([len(set(found[i, :10].tolist()) & set(truth[i].tolist())) / 10 for i in range(len(truth))]))
    return r1, r10


def timed_queries(search_one, queries, k):
    """Queries per second of CPU time: searches run on this one thread, and CPU time does not
    count the time the (shared, loaded) machine gave to other processes."""
    found = np.empty((len(queries), k), dtype=np.int64)
    t = time.process_time()
    for i, q in enumerate(queries):
        found[i] = search_one(q)
    return found, len(queries) / (time.process_time() - t)


def sweep(name, set_ef, search_one, queries, truth, k, target):
    """Smallest ef reaching the target recall@10 (or the best seen)."""
    best = None
    for ef in EFS:
        set_ef(ef)
        found, qps = timed_queries(search_one, queries, k)
        r1, r10 = recalls(found, truth)
        best = (ef, r1, r10, qps)
        if r10 >= target:
            break
    # the best of three timings at the chosen ef, against load spikes from other processes
    qps = max([best[3]] + [timed_queries(search_one, queries, k)[1] for _ in range(2)])
    return best[:3] + (qps,)


def row(rows, name, r1, r10, qps, build, bpv, note=""):
    rows.append((name, r1, r10, qps, build, bpv, note))
    print(
        f"  {name:<28} r@1 {r1:.3f}  r@10 {r10:.3f}  {qps:9.0f} q/s  build {build:7.2f} s  {bpv:7.0f} B/vec  {note}",
        flush=True,
    )


def small_index_overhead(dim, rng):
    """Microseconds (CPU time) per search call on a 100-vector index."""
    data = rng.standard_normal((100, dim)).astype(np.float32)
    q = data[3].copy()
    out = {}

    def per_call(fn, n=20000):
        fn()
        t = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - t) / n * 1e6

    idx = VectorIndex(dim)
    idx.add(np.arange(100, dtype=np.uint64), data)
    out["dejacache"] = per_call(lambda: idx.search(q, 10))
    try:
        import hnswlib

        h = hnswlib.Index("cosine", dim)
        h.init_index(100)
        h.add_items(data)
        out["hnswlib"] = per_call(lambda: h.knn_query(q, 10))
    except ImportError:
        pass
    try:
        from usearch.index import Index

        u = Index(ndim=dim, metric="cos")
        u.add(np.arange(100), data)
        out["usearch"] = per_call(lambda: u.search(q, 10), 5000)
    except ImportError:
        pass
    return out


def crossover(dim, sizes, rng):
    """Per-query time of a flat scan and an HNSW search by namespace size (for kind='auto')."""
    print("\nflat vs hnsw per query, by namespace size (sets namespace.AUTO_GRAPH_AT):")
    for n in sizes:
        data, queries = clustered(n, 300, dim, seed=n)
        times = {}
        for kind in ("flat", "hnsw"):
            idx = VectorIndex(dim, kind=kind)
            t = time.perf_counter()
            idx.add(np.arange(n, dtype=np.uint64), data)
            build = time.perf_counter() - t
            _, qps = timed_queries(lambda q: idx.search(q, 10)[0].astype(np.int64), queries, 10)
            times[kind] = (1e6 / qps, build)
        print(
            f"  n={n:6d}  flat {times['flat'][0]:7.1f} us  hnsw {times['hnsw'][0]:7.1f} us"
            f"  (hnsw build {times['hnsw'][1]:.2f} s)  flat/hnsw {times['flat'][0] / times['hnsw'][0]:.2f}x"
        )


def scans(rows, data, queries, truth, k, label=""):
    """Exact scans: numpy, dejacache flat f32 and i8 (with rerank), faiss flat."""
    n, d = data.shape
    ids = np.arange(n, dtype=np.uint64)

    def numpy_one(q):
        s = data @ q
        top = np.argpartition(-s, k)[:k]
        return top[np.argsort(-s[top])]

    found, numpy_qps = timed_queries(numpy_one, queries, k)
    row(
        rows,
        f"numpy f32 scan{label}",
        *recalls(found, truth),
        numpy_qps,
        0.0,
        data.nbytes / n,
        f"{numpy_qps * data.nbytes / 1e9:.1f} GB/s scanned",
    )
    flat_qps = 0.0
    for dtype in ("f32", "i8"):
        idx = VectorIndex(d, kind="flat", dtype=dtype)
        t = time.perf_counter()
        idx.add(ids, data)
        build = time.perf_counter() - t
        found, qps = timed_queries(lambda q: idx.search(q, k)[0].astype(np.int64), queries, k)
        gbs = qps * n * d * (4 if dtype == "f32" else 1) / 1e9
        row(
            rows,
            f"dejacache flat {dtype}{label}",
            *recalls(found, truth),
            qps,
            build,
            idx.memory_bytes / n,
            f"{gbs:.1f} GB/s scanned, {qps / numpy_qps:.2f}x numpy",
        )
        if dtype == "f32":
            flat_qps = qps
        del idx
    try:
        import faiss

        fi = faiss.IndexFlatIP(d)
        fi.add(data)
        found, qps = timed_queries(lambda q: fi.search(q[None, :], k)[1][0], queries, k)
        row(
            rows,
            f"faiss flat f32{label}",
            *recalls(found, truth),
            qps,
            0.0,
            data.nbytes / n,
            f"dejacache flat f32 {flat_qps / qps:.2f}x",
        )
        del fi
    except ImportError:
        print("  faiss not installed: skipped")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--scan-n", type=int, default=0, help="also time exact scans over this many vectors")
    ap.add_argument("--crossover", action="store_true", help="also measure the flat/HNSW crossover")
    args = ap.parse_args()
    n, d, k = args.n, args.dim, args.k
    rng = np.random.default_rng(1)
    data, queries = clustered(n, args.queries, d)
    truth = exact_top(data, queries, k)
    ids = np.arange(n, dtype=np.uint64)
    rows = []
    print(f"n={n} dim={d} queries={args.queries} k={k} target recall@10={args.target}; one query per call, one thread")
    print(
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )

    scans(rows, data, queries, truth, k)
    if args.scan_n > n:
        big, big_q = clustered(args.scan_n, 200, d, seed=2)
        print(f"exact scans of n={args.scan_n} (past the 32 MiB L3 cache), 200 queries:")
        scans(rows, big, big_q, exact_top(big, big_q, k), k, f" n={args.scan_n}")
        del big

    # graphs
    results = {}
    for dtype in ("f32", "i8"):
        idx = VectorIndex(d, kind="hnsw", dtype=dtype)
        t = time.perf_counter()
        idx.add(ids, data, threads=2)
        results[f"dejacache {dtype} build 2t"] = (0, time.perf_counter() - t)
        del idx
        idx = VectorIndex(d, kind="hnsw", dtype=dtype)
        t = time.perf_counter()
        idx.add(ids, data)
        build = time.perf_counter() - t
        ef_box = [64]
        ef, r1, r10, qps = sweep(
            "dejacache",
            lambda e: ef_box.__setitem__(0, e),
            lambda q: idx.search(q, k, ef=ef_box[0])[0].astype(np.int64),
            queries,
            truth,
            k,
            args.target,
        )
        results[f"dejacache {dtype}"] = (qps, build)
        row(
            rows,
            f"dejacache hnsw {dtype}",
            r1,
            r10,
            qps,
            build,
            idx.memory_bytes / n,
            f"ef={ef}; build on 2 threads {results[f'dejacache {dtype} build 2t'][1]:.2f} s",
        )
        del idx
        gc.collect()
    try:
        import hnswlib

        for threads in (1, 2):
            h = hnswlib.Index("cosine", d)
            h.init_index(n, M=16, ef_construction=200, random_seed=1)
            h.set_num_threads(threads)
            t = time.perf_counter()
            h.add_items(data, np.arange(n))
            build = time.perf_counter() - t
            results[f"hnswlib build {threads}t"] = (0, build)
        h.set_num_threads(1)
        with tempfile.TemporaryDirectory() as tmp:
            h.save_index(os.path.join(tmp, "h.bin"))
            hbytes = os.path.getsize(os.path.join(tmp, "h.bin"))
        ef, r1, r10, qps = sweep("hnswlib", h.set_ef, lambda q: h.knn_query(q, k)[0][0], queries, truth, k, args.target)
        results["hnswlib"] = (qps, results["hnswlib build 1t"][1])
        row(
            rows,
            "hnswlib f32",
            r1,
            r10,
            qps,
            results["hnswlib build 1t"][1],
            hbytes / n,
            f"ef={ef}; build on 2 threads {results['hnswlib build 2t'][1]:.2f} s",
        )
        del h
    except ImportError:
        print("  hnswlib not installed: skipped")
    try:
        from usearch.index import Index

        for dtype in ("f32", "i8"):
            u = Index(ndim=d, metric="cos", dtype=dtype, connectivity=16, expansion_add=200)
            t = time.perf_counter()
            u.add(np.arange(n), data, threads=1)
            build = time.perf_counter() - t

            def set_ef(e, u=u):
                u.expansion_search = e

            ef, r1, r10, qps = sweep(
                "usearch", set_ef, lambda q, u=u: u.search(q, k).keys.astype(np.int64), queries, truth, k, args.target
            )
            row(rows, f"usearch hnsw {dtype}", r1, r10, qps, build, u.memory_usage / n, f"ef={ef}")
            del u
    except ImportError:
        print("  usearch not installed: skipped")
    try:
        import faiss

        fh = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
        fh.hnsw.efConstruction = 200
        t = time.perf_counter()
        fh.add(data)
        build = time.perf_counter() - t

        def set_ef(e):
            fh.hnsw.efSearch = e

        ef, r1, r10, qps = sweep(
            "faiss", set_ef, lambda q: fh.search(q[None, :], k)[1][0], queries, truth, k, args.target
        )
        row(rows, "faiss hnsw f32", r1, r10, qps, build, faiss.serialize_index(fh).nbytes / n, f"ef={ef}")
        del fh
    except ImportError:
        pass

    print("\nratios (same run):")
    if "hnswlib" in results:
        hq, hb = results["hnswlib"]
        for dtype in ("f32", "i8"):
            q, b = results[f"dejacache {dtype}"]
            b2 = results[f"dejacache {dtype} build 2t"][1]
            print(
                f"  dejacache hnsw {dtype} / hnswlib: queries/s {q / hq:.2f}x at recall@10 >= {args.target}; "
                f"build time {b / hb:.2f}x on 1 thread, {b2 / results['hnswlib build 2t'][1]:.2f}x on 2 threads"
            )
    overhead = small_index_overhead(d, rng)
    print("  one search on a 100-vector index: " + ", ".join(f"{k} {v:.2f} us" for k, v in overhead.items()))
    if args.crossover:
        crossover(d, [500, 1000, 2000, 4000, 8000, 16000], rng)


if __name__ == "__main__":
    main()
