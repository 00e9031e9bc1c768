"""The learned pair evaluator before and after its guarantees (identical texts served, score
non-decreasing in the similarity), on the same held-out Quora pairs and the same embeddings.

"before" is the fitted model's raw probability (PairModel.probability); "after" is what
CalibratedPairEvaluator serves (score_batch: identity short-circuit + monotone envelope). Both
are scored on the held-out test bucket the model was neither fitted nor tuned on, at the model's
own threshold and a few others, and the pairs whose decision changed are counted by label.

    python benches/calibrated_monotone_qqp.py --limit 8000      # 1/4 of the pairs are held out

The data (/work/shared/data/qqp_pairs_dev.jsonl.gz or --data) is for benchmarks only.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from dejacache._cli.accuracy import embed_pairs, held_out, make_embedder, point_at, read_pairs, roc_auc
from dejacache._semantic.calibrated import CalibratedPairEvaluator

DATA = "/work/shared/data/qqp_pairs_dev.jsonl.gz"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--limit", type=int, default=None, help="read at most N pairs (the held-out quarter is scored)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    try:
        pairs = held_out(read_pairs(args.data, args.limit))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ev = CalibratedPairEvaluator()
    started = time.perf_counter()
    u, v = embed_pairs(pairs, make_embedder("minilm", args.threads))
    print(
        f"{len(pairs)} held-out pairs ({int(pairs.duplicate.sum())} duplicates), embedded in "
        f"{time.perf_counter() - started:.0f} s"
    )
    cosine = (u.astype(np.float64) * v).sum(axis=1)
    labels = pairs.duplicate
    before = ev.model.probability(ev.model.design(pairs.a, pairs.b, cosine, u, v))
    started = time.perf_counter()
    after = ev.score_batch(pairs.a, pairs.b, cosine, u, v)
    print(
        f"scored in {time.perf_counter() - started:.1f} s; ROC AUC before {roc_auc(before, labels):.4f}, "
        f"after {roc_auc(after, labels):.4f}"
    )
    print("threshold  before: precision recall served   after: precision recall served")
    for t in sorted({0.75, 0.9, float(ev.threshold), 0.97}):
        b, a = point_at(before, labels, t), point_at(after, labels, t)
        print(
            f"{t:9.3f}          {b.precision:.3f}  {b.recall:.3f} {b.served:6d}"
            f"          {a.precision:.3f}  {a.recall:.3f} {a.served:6d}"
        )
        gained = (after >= t) & ~(before >= t)
        lost = (before >= t) & ~(after >= t)
        print(
            f"           newly served: {int(gained.sum())} ({int((gained & labels).sum())} duplicates); "
            f"no longer served: {int(lost.sum())} ({int((lost & labels).sum())} duplicates)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
