"""Labelled pairs and the accuracy figures of a pair scorer (shared by ``eval`` and ``tune``).

A pairs file has one JSON object per line, ``{"a": text, "b": text, "duplicate": bool}``,
optionally gzipped. Pairs are split into stable buckets by a hash of their text, so that a
model fitted on some buckets is never measured on them, whichever command reads the file.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from .._core import key_of_text

#: buckets of :func:`split_buckets`: fitting, choosing a threshold, and the reported test
FIT, VALIDATE, TEST = (0, 1), (2,), (3,)


@dataclass
class Pairs:
    a: list[str]
    b: list[str]
    duplicate: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.a)

    def take(self, mask: np.ndarray) -> Pairs:
        idx = np.flatnonzero(mask)
        return Pairs([self.a[i] for i in idx], [self.b[i] for i in idx], self.duplicate[idx])


def read_pairs(path: str | Path, limit: int | None = None) -> Pairs:
    """Reads a pairs file (``.gz`` or plain); a bad line is a ValueError naming its number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no pairs file at {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    a: list[str] = []
    b: list[str] = []
    dup: list[bool] = []
    with opener(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if limit is not None and len(a) >= limit:
                break
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
                first, second, label = row["a"], row["b"], row["duplicate"]
            except (orjson.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{number}: expected a JSON object with a, b, duplicate ({e})") from None
            if not isinstance(first, str) or not isinstance(second, str) or not isinstance(label, (bool, int)):
                raise ValueError(f"{path}:{number}: a and b must be strings and duplicate a boolean")
            a.append(first)
            b.append(second)
            dup.append(bool(label))
    if not a:
        raise ValueError(f"{path} has no pairs")
    return Pairs(a, b, np.array(dup, dtype=bool))


def split_buckets(pairs: Pairs) -> np.ndarray:
    """A bucket 0-3 per pair from a hash of its two texts (order-independent, so a pair and
    its mirror land together)."""
    return np.array(
        [int(key_of_text("\x1f".join(sorted((x, y))))[:8], 16) % 4 for x, y in zip(pairs.a, pairs.b)],
        dtype=np.int8,
    )


def held_out(pairs: Pairs) -> Pairs:
    """The pairs of the test bucket: what a model fitted by ``dejacache tune`` never saw."""
    return pairs.take(np.isin(split_buckets(pairs), TEST))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random duplicate outscores a random non-duplicate
    (ties count half), computed from ranks."""
    labels = labels.astype(bool)
    pos, neg = int(labels.sum()), int((~labels).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average rank over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


@dataclass
class Point:
    threshold: float
    precision: float
    recall: float
    false_positive_rate: float
    hit_rate: float
    served: int


def point_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> Point:
    """The figures when every pair scoring >= ``threshold`` is served as a hit."""
    served = scores >= threshold
    tp = int((served & labels).sum())
    fp = int((served & ~labels).sum())
    pos, neg = int(labels.sum()), int((~labels).sum())
    return Point(
        threshold=float(threshold),
        precision=tp / (tp + fp) if tp + fp else float("nan"),
        recall=tp / pos if pos else float("nan"),
        false_positive_rate=fp / neg if neg else float("nan"),
        hit_rate=(tp + fp) / len(scores),
        served=tp + fp,
    )


def curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, precision, recall) at every distinct score, highest threshold first."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each run of equal scores
    pos = max(int(labels.sum()), 1)
    return s[last], tp[last] / (tp[last] + fp[last]), tp[last] / pos


def threshold_for_precision(
    scores: np.ndarray, labels: np.ndarray, target: float, min_served: int = 30
) -> float | None:
    """The lowest threshold whose precision is >= ``target`` with at least ``min_served``
    pairs served (fewer makes the precision an anecdote); None if no threshold reaches it."""
    thresholds, precision, _ = curve(scores, labels)
    served = np.arange(1, len(scores) + 1)
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    counts = served[np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]]
    ok = np.flatnonzero((precision >= target) & (counts >= min_served))
    return float(thresholds[ok[-1]]) if len(ok) else None


def format_table(scores: np.ndarray, labels: np.ndarray, thresholds: list[float]) -> str:
    lines = [f"{'threshold':>9}  {'precision':>9}  {'recall':>6}  {'FPR':>6}  {'hit rate':>8}  {'served':>7}"]
    for t in thresholds:
        p = point_at(scores, labels, t)
        lines.append(
            f"{p.threshold:>9.3f}  {p.precision:>9.3f}  {p.recall:>6.3f}  {p.false_positive_rate:>6.3f}  {p.hit_rate:>8.3f}  {p.served:>7}"
        )
    return "\n".join(lines)


def write_curve_png(
    path: str | Path,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    title: str,
    marks: dict[str, tuple[float, float]] | None = None,
) -> bool:
    """Precision/recall curves as a PNG; False (and nothing written) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for label, (recall, precision) in curves.items():
        ax.plot(recall, precision, label=label, linewidth=1.5)
    for label, (r, p) in (marks or {}).items():
        ax.plot([r], [p], "o", markersize=5)
        ax.annotate(label, (r, p), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xlabel("recall (duplicates served from cache)")
    ax.set_ylabel("precision (served hits that are right)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0.3, 1.005)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


EMBEDDERS = ("minilm", "l3", "hashing")


def make_embedder(name: str, threads: int = 1):
    """The embedder a command-line name stands for."""
    from .. import embedders

    if name == "minilm":
        return embedders.MiniLMEmbedder(threads=threads, batch_size=64)
    if name == "l3":
        return embedders.MiniLML3Embedder(threads=threads, batch_size=64)
    if name == "hashing":
        return embedders.HashingEmbedder()
    raise ValueError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDERS)}")


def embed_pairs(pairs: Pairs, embedder, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of each pair's two texts, every distinct text embedded once."""
    texts = list(dict.fromkeys(pairs.a + pairs.b))
    index = {t: i for i, t in enumerate(texts)}
    vectors = np.empty((len(texts), embedder.dim), dtype=np.float32)
    step = 2048
    for start in range(0, len(texts), step):
        vectors[start : start + step] = embedder.embed(texts[start : start + step])
        if progress is not None:
            progress(min(start + step, len(texts)), len(texts))
    u = vectors[[index[t] for t in pairs.a]]
    v = vectors[[index[t] for t in pairs.b]]
    return u, v
