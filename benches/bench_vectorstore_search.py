"""The semantic tier's search and add through the ``VectorStore`` interface against the bare index.

The tier talks only to ``vectorstores.VectorStore``; its default is ``BuiltinStore`` over the
Rust ``VectorIndex``. This prints, for one query against a small namespace (where the Python
around the search weighs most): ``VectorIndex.search`` (the floor), ``BuiltinStore.search`` (the
tier's path: a float32 array goes straight to the index, which checks it) and the generic
``VectorStore.search`` (argument checks in Python), with the ratios to the floor; then the same
for a put's one-row ``add`` (replacing one id, so the namespace keeps its size).

    python benches/bench_vectorstore_search.py [--rounds 9] [--number 3000] [--size 50]
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np
from dejacache import VectorIndex
from dejacache._semantic.vectors import SEMANTIC_INDEX_EF, SEMANTIC_INDEX_M
from dejacache.vectorstores import BuiltinStore, VectorStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--number", type=int, default=3000)
    ap.add_argument("--size", type=int, default=50, help="vectors in the namespace searched")
    ap.add_argument("--dim", type=int, default=384)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((args.size, args.dim)).astype(np.float32)
    index = VectorIndex(args.dim, metric="cosine", M=SEMANTIC_INDEX_M, ef_search=SEMANTIC_INDEX_EF)
    index.add(np.arange(args.size, dtype=np.uint64), rows, namespace="scope")
    store = BuiltinStore.from_index(index)
    query = rows[args.size // 2][None, :].copy()  # as the tier passes it: (1, dim) float32
    paths = {
        "VectorIndex.search (floor)": lambda: index.search(query, 5, namespace="scope"),
        "BuiltinStore.search (the tier's)": lambda: store.search(query, 5, namespace="scope"),
        "VectorStore.search (generic checks)": lambda: VectorStore.search(store, query, 5, namespace="scope"),
    }
    one = np.array([args.size // 3], np.uint64)
    row = rows[args.size // 3][None, :].copy()
    adds = {
        "VectorIndex.add (floor)": lambda: index.add(one, row, "scope"),
        "BuiltinStore.add (the tier's)": lambda: store.add(one, row, namespace="scope"),
        "VectorStore.add (generic checks)": lambda: VectorStore.add(store, one, row, namespace="scope"),
    }
    print(f"a {args.size}-vector namespace, dim {args.dim}; median of {args.rounds} rounds")
    for title, group in (("search: one query, k=5", paths), ("add: one row", adds)):
        times: dict[str, list[float]] = {name: [] for name in group}
        for _ in range(args.rounds):  # interleaved: a busy machine slows each path alike
            for name, fn in group.items():
                times[name].extend(t / args.number * 1e6 for t in timeit.repeat(fn, number=args.number, repeat=1))
        floor = statistics.median(next(iter(times.values())))
        print(title)
        for name, samples in times.items():
            med = statistics.median(samples)
            print(f"  {name:38s} {med:7.2f} us  {med / floor:5.2f}x")


if __name__ == "__main__":
    main()
