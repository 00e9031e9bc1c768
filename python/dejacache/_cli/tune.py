"""``dejacache tune``: the threshold (or a fitted evaluator) for a target precision.

Pairs are split into stable hash buckets: half to fit, a quarter to choose the threshold, a
quarter to report. The figures printed come from the last quarter only, which nothing was
fitted or tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HELP = "recommend a threshold, or fit a calibrated pair evaluator, for a target precision"


def configure(parser: argparse.ArgumentParser) -> None:
    from .accuracy import EMBEDDERS

    parser.add_argument("--pairs", required=True, help='JSON lines {"a", "b", "duplicate"}, optionally .gz')
    parser.add_argument("--precision", type=float, default=0.95, help="target precision of served hits (default 0.95)")
    parser.add_argument("--embedder", choices=EMBEDDERS, default="minilm", help="default: minilm (all-MiniLM-L6-v2)")
    parser.add_argument(
        "--fit", action="store_true", help="fit a calibrated pair evaluator, not just a cosine threshold"
    )
    parser.add_argument(
        "--model",
        choices=("trees", "logistic"),
        default=None,
        help="trees (gradient-boosted, needs scikit-learn to fit; the default when it is installed) or logistic",
    )
    parser.add_argument("--no-embedding-terms", action="store_true", help="fit on the hand-made features only")
    parser.add_argument(
        "--l2", default="3,30,300", help="logistic: L2 strengths to try, comma-separated (chosen on the tuning split)"
    )
    parser.add_argument("--trees", type=int, default=300, help="trees: number of boosting rounds (default 300)")
    parser.add_argument("--leaves", type=int, default=15, help="trees: leaves per tree (default 15)")
    parser.add_argument("--out", default=None, help="write the fitted model (JSON) here")
    parser.add_argument("--limit", type=int, default=None, help="read at most N pairs")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")


def _describe(label: str, point) -> str:
    return (
        f"{label}: precision {point.precision:.3f}, recall {point.recall:.3f}, "
        f"FPR {point.false_positive_rate:.3f}, hit rate {point.hit_rate:.3f} ({point.served} served)"
    )


def run(args: argparse.Namespace) -> int:
    from .accuracy import (
        FIT,
        TEST,
        VALIDATE,
        embed_pairs,
        make_embedder,
        point_at,
        read_pairs,
        roc_auc,
        split_buckets,
        threshold_for_precision,
    )
    from .eval import progress

    if not 0.0 < args.precision < 1.0:
        print("error: --precision must be between 0 and 1, e.g. 0.95", file=sys.stderr)
        return 2
    try:
        l2_values = [float(x) for x in args.l2.split(",") if x.strip()]
        pairs = read_pairs(args.pairs, args.limit)
        embedder = make_embedder(args.embedder, args.threads)
    except (OSError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    buckets = split_buckets(pairs)
    fit, validate, test = (np.isin(buckets, b) for b in (FIT, VALIDATE, TEST))
    if min(fit.sum(), validate.sum(), test.sum()) < 10:
        print(f"error: {len(pairs)} pairs are too few to fit, tune and test on separate splits", file=sys.stderr)
        return 2
    labels = pairs.duplicate
    u, v = embed_pairs(pairs, embedder, progress if len(pairs) > 2000 else None)
    cosine = (u.astype(np.float64) * v).sum(axis=1)
    target = args.precision
    print(
        f"pairs: {len(pairs)} (fit {fit.sum()}, tune {validate.sum()}, held-out test {test.sum()})  embedder: {embedder.name}"
    )

    tuned = fit | validate
    t = threshold_for_precision(cosine[tuned], labels[tuned], target)
    if t is None:
        print(f"cosine: no threshold reaches precision {target} on the tuning pairs")
    else:
        print(f"cosine threshold for precision {target}: {t:.4f}")
        print("  " + _describe("held-out", point_at(cosine[test], labels[test], t)))
    print(f"  cosine ROC AUC (held-out): {roc_auc(cosine[test], labels[test]):.4f}")
    if not args.fit:
        return 0

    import importlib.util

    from .._semantic.calibrated import pair_design
    from .._semantic.fitting import build_logistic, build_trees
    from .._semantic.pair_features import LEXICAL_FEATURES

    kind = args.model or ("trees" if importlib.util.find_spec("sklearn") else "logistic")
    if args.model is None and kind == "logistic":
        print("scikit-learn is not installed, so fitting the logistic model (pip install scikit-learn for trees)")
    dim = 0 if args.no_embedding_terms else embedder.dim
    design = pair_design(
        pairs.a, pairs.b, cosine, u, v, features=LEXICAL_FEATURES, embedding_dim=dim, embedder=embedder.name
    )
    header = {"features": LEXICAL_FEATURES, "embedding_dim": dim, "embedder": embedder.name}
    if kind == "trees":
        try:
            model = build_trees(design[fit], labels[fit], trees=args.trees, leaves=args.leaves, **header)
        except ImportError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    else:
        best: tuple[float, Any] | None = None
        for l2 in l2_values:
            candidate = build_logistic(design[fit], labels[fit], l2=l2, **header)
            p = np.clip(candidate.probability(design[validate]), 1e-12, 1 - 1e-12)
            loss = float(-np.mean(np.where(labels[validate], np.log(p), np.log1p(-p))))
            print(f"  l2={l2:g}: log-loss on the tuning pairs {loss:.4f}")
            if best is None or loss < best[0]:
                best = (loss, candidate)
        assert best is not None
        model = best[1]
    scores = model.probability(design)
    t = threshold_for_precision(scores[validate], labels[validate], target)
    auc = roc_auc(scores[test], labels[test])
    print(
        f"calibrated evaluator ({kind}), held-out ROC AUC {auc:.4f} (cosine {roc_auc(cosine[test], labels[test]):.4f})"
    )
    if t is None:
        print(f"  no probability threshold reaches precision {target} on the tuning pairs")
        held_out = None
    else:
        held_out = point_at(scores[test], labels[test], t)
        print(f"  threshold for precision {target}: {t:.4f}")
        print("  " + _describe("held-out", held_out))
    model.spec.update(
        {
            "threshold": None if t is None else round(t, 6),
            "target_precision": target,
            "held_out": None
            if held_out is None
            else {
                "pairs": int(test.sum()),
                "precision": round(held_out.precision, 4),
                "recall": round(held_out.recall, 4),
                "false_positive_rate": round(held_out.false_positive_rate, 4),
                "roc_auc": round(auc, 4),
            },
            "fitted_on": {
                "file": Path(args.pairs).name,
                "pairs": int(fit.sum()),
                "split": "xxh3-128 of the sorted pair text, buckets 0-1 fit, 2 tune, 3 test",
            },
        }
    )
    if args.out:
        Path(args.out).write_text(json.dumps(model.to_dict(), separators=(",", ":")) + "\n")
        print(f"wrote {args.out}; use it as CalibratedPairEvaluator({args.out!r})")
    else:
        print("no --out given, so the model was not saved")
    return 0
