"""Distance kernels against their peers, in one run, with ratios.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benches/bench_distance.py

1. Python overhead of one 384-d cosine call: dejacache.distance vs simsimd vs numpy.
2. One-to-many scan of 100k x 384 float32 rows (dot, l2, cosine) vs numpy, in GB/s, against a
   read-bandwidth probe measured in the same run (an integer OR-reduction over the same bytes:
   it does nothing but stream memory, so it is the practical bound on one core).
3. int8 scan (per-vector max-abs quantised rows) vs numpy's float32 scan, and the recall@10 of
   the int8 ranking after a float32 rerank of the top 40.

Needs a release build (maturin develop --release); simsimd is optional (pip install simsimd).
"""

from __future__ import annotations

import os
import time
import timeit
from collections.abc import Callable

import numpy as np
from dejacache import distance

N, DIM = 100_000, 384


def per_call_us(
    candidates: dict[str, Callable[[], object]], number: int = 20_000, rounds: int = 15
) -> dict[str, float]:
    """Best microseconds per call of each candidate, measured round-robin (see best_ms)."""
    best = {name: float("inf") for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            best[name] = min(best[name], timeit.timeit(fn, number=number) / number * 1e6)
    return best


def best_ms(candidates: dict[str, Callable[[], object]], rounds: int = 40) -> dict[str, float]:
    """Best time of each candidate, run round-robin so that load from other processes on a
    shared machine falls on all of them alike."""
    best = {name: float("inf") for name in candidates}
    for fn in candidates.values():
        fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: t * 1e3 for name, t in best.items()}


def quantise_rows(x: np.ndarray) -> np.ndarray:
    """Symmetric per-vector max-abs scaling to int8 (the scheme of the Rust core)."""
    scale = np.abs(x).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.rint(x / scale), -127, 127).astype(np.int8)


def scaled_i8_dot(rows_i8: np.ndarray, query_i8: np.ndarray, row_scales: np.ndarray) -> np.ndarray:
    """dot ~= scale_q * scale_row * dot_i8: ranking needs each row's scale back (scale_q is
    common to all rows). Multiplied in place: a second 100k-element result would cost page
    faults on fresh memory, not arithmetic."""
    out = distance.dot(rows_i8, query_i8)
    return np.multiply(out, row_scales, out=out)


def main() -> None:
    print(f"kernels: {distance.simd_level()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    rng = np.random.default_rng(0)
    # Clustered rows, like sentence embeddings: 100 centres plus noise, unit length.
    centres = rng.standard_normal((100, DIM)).astype(np.float32)
    rows = centres[rng.integers(0, 100, N)] + 0.5 * rng.standard_normal((N, DIM)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    query = rows[123] + 0.1 * rng.standard_normal(DIM).astype(np.float32)
    a, b = rows[0].copy(), rows[1].copy()

    print("\n1. one 384-d cosine call (us per call, lower is better), best of 15 interleaved rounds")
    calls: dict[str, Callable[[], object]] = {
        "dejacache": lambda: distance.cosine(a, b),
        "numpy": lambda: float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))),
    }
    try:
        import simsimd

        calls["simsimd"] = lambda: simsimd.cosine(a, b)
    except ImportError:
        print("   simsimd not installed (pip install simsimd)")
    us = per_call_us(calls)
    ours = us["dejacache"]
    print(f"   dejacache.distance.cosine  {ours:6.3f} us")
    if "simsimd" in us:
        print(
            f"   simsimd.cosine             {us['simsimd']:6.3f} us   dejacache/simsimd time ratio {ours / us['simsimd']:.2f}"
        )
    print(f"   numpy (dot / norms)        {us['numpy']:6.3f} us   numpy/dejacache time ratio {us['numpy'] / ours:.1f}x")

    gb = rows.nbytes / 1e9
    rows_i8, query_i8 = quantise_rows(rows), quantise_rows(query[None, :])[0]
    row_scales = np.abs(rows).max(axis=1) / 127.0
    times = best_ms(
        {
            "probe": lambda: np.bitwise_or.reduce(rows.view(np.uint64), axis=None),
            "numpy": lambda: rows @ query,
            "dot": lambda: distance.dot(rows, query),
            "l2": lambda: distance.l2(rows, query),
            "cosine": lambda: distance.cosine(rows, query),
            "i8": lambda: scaled_i8_dot(rows_i8, query_i8, row_scales),
        }
    )
    bound = gb / times["probe"] * 1e3
    numpy_ms = times["numpy"]
    print(f"\n2. one-to-many float32 scan, {N} x {DIM} ({rows.nbytes / 1e6:.0f} MB), best of 40 interleaved runs")
    print(f"   read-bandwidth probe (OR-reduce)  {times['probe']:6.2f} ms  {bound:5.1f} GB/s  (the bound)")
    print(
        f"   numpy rows @ q                    {numpy_ms:6.2f} ms  {gb / numpy_ms * 1e3:5.1f} GB/s"
        f"  {gb / numpy_ms * 1e3 / bound:4.0%} of bound"
    )
    for name in ("dot", "l2", "cosine"):
        ms = times[name]
        rate = gb / ms * 1e3
        print(
            f"   dejacache.distance.{name:<7}        {ms:6.2f} ms  {rate:5.1f} GB/s  {rate / bound:4.0%} of bound"
            f"  {numpy_ms / ms:4.1f}x numpy"
        )

    i8_ms = times["i8"]
    print(f"\n3. int8 scan ({N * DIM / 1e6:.0f} MB, row scales applied) vs numpy float32 scan")
    print(
        f"   dejacache int8 dot   {i8_ms:6.2f} ms   {numpy_ms / i8_ms:4.1f}x faster than numpy float32 ({numpy_ms:.2f} ms)"
    )
    queries = rows[rng.integers(0, N, 50)] + 0.1 * rng.standard_normal((50, DIM)).astype(np.float32)
    recall = []
    for q in queries:
        truth = set(np.argsort(-(rows @ q))[:10].tolist())
        coarse_scores = scaled_i8_dot(rows_i8, quantise_rows(q[None, :])[0], row_scales)
        coarse = np.argpartition(-coarse_scores, 40)[:40]
        reranked = coarse[np.argsort(-(rows[coarse] @ q))[:10]]
        recall.append(len(truth & set(reranked.tolist())) / 10)
    print(f"   recall@10 of int8 scan + float32 rerank of top 40: {np.mean(recall):.3f} (50 queries)")


if __name__ == "__main__":
    main()
