"""How the semantic tier's DEFAULT configuration scores on labelled question pairs (QQP).

For each pair (a, b): a is stored, b is asked. The default pipeline decides: text normalised
(dejacache.preprocess.normalize_text), embedded by the default embedder, scored by the default
evaluator with the cosine of the two embeddings. A hit is counted when the score reaches the
threshold. Prints precision, recall and hit rate per threshold, for cosine alone and for the
default evaluator, so the default threshold can be checked against data.

    python benches/semantic_defaults_qqp.py --pairs 3000
    python benches/semantic_defaults_qqp.py --embedder hashing

The data (/work/shared/data/qqp_pairs_dev.jsonl.gz or --data) is for benchmarks only and is never
shipped; QQP's labels are noisy (identical questions labelled "different" exist), which caps the
precision any method can show on it near 0.9.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys

import numpy as np
from dejacache._semantic.config import default_evaluator, default_threshold
from dejacache.evaluation import score_of
from dejacache.preprocess import normalize_text

DATA = "/work/shared/data/qqp_pairs_dev.jsonl.gz"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--pairs", type=int, default=3000, help="pairs sampled (default 3000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", choices=("default", "hashing"), default="default")
    args = ap.parse_args(argv)

    opener = gzip.open if args.data.endswith(".gz") else open
    with opener(args.data, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    random.Random(args.seed).shuffle(rows)
    rows = rows[: args.pairs]
    if args.embedder == "hashing":
        from dejacache.embedders import HashingEmbedder

        model = HashingEmbedder()
    else:
        from dejacache.embedders import default_embedder

        model = default_embedder().inner
    a = model.embed([normalize_text(r["a"]) or r["a"] for r in rows])
    b = model.embed([normalize_text(r["b"]) or r["b"] for r in rows])
    cos = np.einsum("ij,ij->i", a, b)
    y = np.array([bool(r["duplicate"]) for r in rows])
    ev = default_evaluator(model)
    scores = np.array(
        [score_of(ev, {"text": r["b"]}, {"text": r["a"], "similarity": float(c)}) for r, c in zip(rows, cos)]
    )
    chosen = default_threshold(model)
    print(
        f"{len(rows)} QQP pairs ({y.mean():.1%} duplicates), embedder {getattr(model, 'name', model)}, "
        f"default evaluator {ev!r}, default threshold {chosen}"
    )
    print(f"{'threshold':>9}  {'cosine: prec':>12} {'recall':>7}   {'default: prec':>13} {'recall':>7} {'hits':>6}")
    for t in sorted({0.85, 0.88, 0.90, 0.92, 0.94, chosen, 0.96, 0.97, 0.98, 0.99}):
        row = [f"{t:9.2f}{' *' if t == chosen else '  '}"]
        for s in (cos, scores):
            hit = s >= t
            prec = (hit & y).sum() / max(hit.sum(), 1)
            rec = (hit & y).sum() / max(y.sum(), 1)
            row.append(f"{prec:12.3f} {rec:7.3f}  ")
        row.append(f"{int((scores >= t).sum()):6d}")
        print(" ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
