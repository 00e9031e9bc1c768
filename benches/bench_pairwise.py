"""Pairwise (2-D x 2-D) distances against numpy, in one run, with ratios.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benches/bench_pairwise.py

Every pair of a (n, 384) batch and a (m, 384) batch, the tiled path of the core: float32 dot,
l2 and cosine, float16 cosine and int8 dot, against numpy's float32 matrix product (BLAS, one
thread) measured round-robin in the same run. Needs a release build.
"""

from __future__ import annotations

import os

import numpy as np
from bench_distance import best_ms
from dejacache import distance

N, M, DIM = 256, 4096, 384


def main() -> None:
    print(f"kernels: {distance.simd_level()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((N, DIM)).astype(np.float32)
    b = rng.standard_normal((M, DIM)).astype(np.float32)
    a16, b16 = a.astype(np.float16), b.astype(np.float16)
    a8 = np.clip(np.rint(a * 40), -127, 127).astype(np.int8)
    b8 = np.clip(np.rint(b * 40), -127, 127).astype(np.int8)
    times = best_ms(
        {
            "numpy a @ b.T": lambda: a @ b.T,
            "dot f32": lambda: distance.dot(a, b),
            "l2 f32": lambda: distance.l2(a, b),
            "cosine f32": lambda: distance.cosine(a, b),
            "cosine f16": lambda: distance.cosine(a16, b16),
            "dot i8": lambda: distance.dot(a8, b8),
        },
        rounds=15,
    )
    numpy_ms = times["numpy a @ b.T"]
    print(f"\n({N}, {DIM}) x ({M}, {DIM}) pairwise, best of 15 interleaved runs")
    for name, ms in times.items():
        print(f"   {name:<14} {ms:7.2f} ms   numpy/this time ratio {numpy_ms / ms:5.2f}")


if __name__ == "__main__":
    main()
