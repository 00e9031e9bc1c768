"""``dejacache eval``: precision, recall, false-positive rate and hit rate per threshold."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

HELP = "measure how well an embedder + evaluator tell duplicate pairs from different ones"

THRESHOLDS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99]


def configure(parser: argparse.ArgumentParser) -> None:
    from .accuracy import EMBEDDERS

    parser.add_argument("--pairs", required=True, help='JSON lines {"a", "b", "duplicate"}, optionally .gz')
    parser.add_argument("--embedder", choices=EMBEDDERS, default="minilm", help="default: minilm (all-MiniLM-L6-v2)")
    parser.add_argument(
        "--evaluator",
        default="cosine",
        help="cosine (the embeddings' cosine similarity), calibrated (the shipped learned model), "
        "or the path of a model written by `dejacache tune --fit --out`",
    )
    parser.add_argument("--limit", type=int, default=None, help="read at most N pairs")
    parser.add_argument("--png", default=None, help="write the precision/recall curve here (needs matplotlib)")
    parser.add_argument(
        "--all-pairs",
        action="store_true",
        help="with a learned evaluator, also score the buckets it was fitted on (only for data it never saw)",
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="score only the held-out test bucket (what a learned evaluator is always scored on), to compare like with like",
    )
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")


def progress(done: int, total: int) -> None:
    print(f"\r  embedded {done}/{total} texts", end="" if done < total else "\n", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from .accuracy import (
        curve,
        embed_pairs,
        format_table,
        held_out,
        make_embedder,
        point_at,
        read_pairs,
        roc_auc,
        write_curve_png,
    )

    try:
        pairs = read_pairs(args.pairs, args.limit)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    learned = None
    if args.held_out and args.evaluator == "cosine":
        pairs = held_out(pairs)
        print(f"scoring the {len(pairs)} pairs of the held-out test bucket")
    if args.evaluator != "cosine":
        from .._semantic.calibrated import CalibratedPairEvaluator

        try:
            learned = CalibratedPairEvaluator(None if args.evaluator == "calibrated" else args.evaluator)
        except (OSError, ValueError) as e:
            print(f"error: cannot load evaluator {args.evaluator!r}: {e}", file=sys.stderr)
            return 2
        if not args.all_pairs:
            pairs = held_out(pairs)
            print(f"scoring the {len(pairs)} held-out pairs (test bucket) the model was neither fitted nor tuned on")
            if not len(pairs):
                print("error: no held-out pairs left; use more pairs or --all-pairs", file=sys.stderr)
                return 2
    try:
        embedder = make_embedder(args.embedder, args.threads)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    labels = pairs.duplicate
    started = time.perf_counter()
    u, v = embed_pairs(pairs, embedder, progress if len(pairs) > 2000 else None)
    embed_seconds = time.perf_counter() - started
    cosine = (u.astype(np.float64) * v).sum(axis=1)
    scores = cosine if learned is None else learned.score_batch(pairs.a, pairs.b, cosine, u, v)
    name = (
        "cosine"
        if learned is None
        else "calibrated"
        if args.evaluator == "calibrated"
        else f"calibrated ({args.evaluator})"
    )

    print(f"pairs: {len(pairs)}  duplicates: {int(labels.sum())} ({labels.mean():.1%})")
    print(f"embedder: {embedder.name}  ({embed_seconds:.1f} s)   evaluator: {name}")
    print(format_table(scores, labels, THRESHOLDS))
    print(
        f"ROC AUC: {roc_auc(scores, labels):.4f}"
        + ("" if learned is None else f"   (cosine alone: {roc_auc(cosine, labels):.4f})")
    )
    marks = {}
    if learned is not None and learned.threshold is not None:
        p = point_at(scores, labels, learned.threshold)
        print(
            f"at the model's recommended threshold {learned.threshold:.3f}: precision {p.precision:.3f}, "
            f"recall {p.recall:.3f}, FPR {p.false_positive_rate:.3f}, hit rate {p.hit_rate:.3f}"
        )
        marks[f"threshold {learned.threshold:.2f}"] = (p.recall, p.precision)
    if args.png:
        _, precision, recall = curve(scores, labels)
        curves = {f"{embedder.name}, {name}": (recall, precision)}
        if learned is not None:
            _, cp, cr = curve(cosine, labels)
            curves[f"{embedder.name}, cosine"] = (cr, cp)
        title = f"{len(pairs)} pairs from {args.pairs.rsplit('/', 1)[-1]}"
        if write_curve_png(args.png, curves, title, marks):
            print(f"wrote {args.png}")
        else:
            print('matplotlib is not installed, so no PNG was written: pip install "dejacache[eval]"')
    return 0
