"""Would cosine AND NumbersAgree AND the calibrated pair evaluator make a better default?

Each candidate default is a real evaluator, scored pair by pair through the semantic tier's own
path (``score_of(evaluator, query, candidate)`` with the tier threshold ``c``):

    AllOf(Cosine(), NumbersAgree(), AtLeast(CalibratedPairEvaluator(), t))   threshold c

The calibrated model was fitted on QQP hash buckets 0-1, so ``t`` is chosen on bucket 2 (the
lowest probability giving precision >= --precision in combination) and every reported figure
comes from bucket 3 only, which nothing was fitted or tuned on. As in the tier, the text is
normalised before it is embedded and the evaluator sees the text as asked.

    python benches/semantic_combined_qqp.py
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from dejacache._cli.accuracy import TEST, VALIDATE, point_at, read_pairs, split_buckets, threshold_for_precision
from dejacache._semantic.calibrated import CalibratedPairEvaluator
from dejacache._semantic.config import default_evaluator, default_threshold
from dejacache.embedders import MiniLMEmbedder
from dejacache.evaluation import AllOf, Cosine, Evaluator, NumbersAgree, score_of
from dejacache.preprocess import normalize_text

DATA = "/work/shared/data/qqp_pairs_dev.jsonl.gz"


class AtLeast(Evaluator):
    """1.0 when ``evaluator`` scores at least ``floor``, else 0.0: gives one part of an AllOf its
    own threshold. Kept here, not in dejacache.evaluation, because the measurement below did not
    justify shipping the combination (notes/semantic.md)."""

    def __init__(self, evaluator, floor: float):
        self.evaluator, self.floor = evaluator, float(floor)

    def bind(self, tier) -> None:
        self.evaluator.bind(tier)

    def evaluate(self, query, candidate) -> float:
        return 1.0 if score_of(self.evaluator, query, candidate) >= self.floor else 0.0

    def __repr__(self) -> str:
        return f"AtLeast({self.evaluator!r}, {self.floor!r})"


def embed(model, texts: list[str]) -> np.ndarray:
    unique = list(dict.fromkeys(normalize_text(t) or t for t in texts))
    vectors = np.concatenate([model.embed(unique[i : i + 2048]) for i in range(0, len(unique), 2048)])
    row = {t: i for i, t in enumerate(unique)}
    return vectors[[row[normalize_text(t) or t] for t in texts]]


def served(evaluator, threshold: float, a: list[str], b: list[str], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which pairs the tier would serve: ``a`` stored, ``b`` asked, exactly as the tier scores them."""
    out = np.empty(len(a), dtype=bool)
    for i in range(len(a)):
        query = {"text": b[i], "embedding": v[i]}
        candidate = {"text": a[i], "embedding": u[i], "similarity": float(np.dot(u[i], v[i]))}
        out[i] = score_of(evaluator, query, candidate) >= threshold
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--precision", type=float, default=0.95, help="target precision on the tuning bucket")
    ap.add_argument("--cosines", default="0.90,0.93,0.95")
    args = ap.parse_args(argv)

    pairs = read_pairs(args.data)
    buckets = split_buckets(pairs)
    model = MiniLMEmbedder(threads=1, batch_size=64)
    calibrated = CalibratedPairEvaluator()
    split = {}
    for name, which in (("tune", VALIDATE), ("report", TEST)):
        idx = np.flatnonzero(np.isin(buckets, which))
        a = [pairs.a[i] for i in idx]
        b = [pairs.b[i] for i in idx]
        u, v = embed(model, a), embed(model, b)
        split[name] = (a, b, u, v, pairs.duplicate[idx])
    a, b, u, v, y = split["report"]
    print(
        f"QQP report bucket: {len(y)} pairs ({y.mean():.1%} duplicates); t tuned on {len(split['tune'][4])} pairs (bucket 2)"
    )

    rows = [("current default", default_evaluator(model), default_threshold(model))]
    ta, tb, tu, tv, ty = split["tune"]
    tcos = (tu.astype(np.float64) * tv).sum(axis=1)
    tnum = np.array([NumbersAgree().evaluate({"text": q}, {"text": c}) == 1.0 for q, c in zip(tb, ta)])
    tcal = calibrated.score_batch(tb, ta, tcos, tv, tu)
    for c in (float(x) for x in args.cosines.split(",")):
        gated = np.where((tcos >= c) & tnum, tcal, -1.0)
        t = threshold_for_precision(gated, ty, args.precision)
        if t is None:
            print(f"cosine {c}: no calibrated threshold reaches precision {args.precision} on the tuning bucket")
            continue
        rows.append((f"cos>={c:.2f}+num+cal>={t:.3f}", AllOf(Cosine(), NumbersAgree(), AtLeast(calibrated, t)), c))
    print(f"{'evaluator':<30} {'tune prec':>9} {'report prec':>11} {'recall':>7} {'served':>6}")
    for label, ev, threshold in rows:
        tuned = point_at(served(ev, threshold, ta, tb, tu, tv).astype(float), ty, 1.0)
        hit = served(ev, threshold, a, b, u, v)
        p = point_at(hit.astype(float), y, 1.0)
        print(f"{label:<30} {tuned.precision:9.3f} {p.precision:11.3f} {p.recall:7.3f} {p.served:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
