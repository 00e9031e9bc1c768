"""A learned pair evaluator: the probability that two texts ask the same thing.

Gradient-boosted trees (or a logistic regression) over :mod:`dejacache._semantic.pair_features`:
cosine, lexical overlap, number, negation, question-word and name mismatches, and the
element-wise product and difference of the two embeddings. Fitted on labelled pairs by
``dejacache tune --fit``; only the fitted numbers are stored (a JSON file), no training text
ships with the package. Inference is numpy only; fitting the trees needs scikit-learn.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .pair_features import LEXICAL_FEATURES, embedding_features, lexical_features

LOGISTIC_FORMAT = "dejacache-pair-logistic/1"
TREES_FORMAT = "dejacache-pair-trees/1"
#: the model shipped with the package, fitted on all-MiniLM-L6-v2 embeddings
DEFAULT_MODEL = "pair_minilm_l6.json"
# Rows scored at once when the score is made monotone (each row expands to one per breakpoint).
_CHUNK = 256
#: Largest model file read (the packaged one is ~0.3 MB).
MAX_MODEL_BYTES = 64 * 1024 * 1024


def normalised(text: str) -> str:
    """The text as the evaluator compares it for identity: Unicode NFKC, case-folded, runs of
    whitespace as one space, no leading or trailing space. Punctuation is kept: "2+2" and "2-2"
    are different questions."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def pair_design(
    a: Sequence[str],
    b: Sequence[str],
    similarity: np.ndarray,
    u: np.ndarray | None,
    v: np.ndarray | None,
    *,
    features: Sequence[str],
    embedding_dim: int,
    embedder: str | None = None,
) -> np.ndarray:
    """The raw feature matrix of a batch of pairs: the named lexical features, then (when
    ``embedding_dim``) the element-wise product and difference of the embeddings."""
    columns = [LEXICAL_FEATURES.index(f) for f in features]
    lexical = np.array([lexical_features(x, y, float(s)) for x, y, s in zip(a, b, similarity)], dtype=np.float64)
    lexical = lexical.reshape(len(a), len(LEXICAL_FEATURES))[:, columns]
    if not embedding_dim:
        return lexical
    if u is None or v is None:
        raise ValueError("this model needs both texts' embeddings (query['embedding'], candidate['embedding'])")
    u = np.asarray(u, dtype=np.float64).reshape(len(a), -1)
    v = np.asarray(v, dtype=np.float64).reshape(len(a), -1)
    if u.shape[1] != embedding_dim or v.shape[1] != embedding_dim:
        raise ValueError(
            f"this model was fitted on {embedding_dim}-dimensional embeddings ({embedder}); "
            f"got {u.shape[1]} and {v.shape[1]}: fit one for your embedder with `dejacache tune --fit`"
        )
    return np.hstack([lexical, embedding_features(u, v)])


class PairModel:
    """A fitted pair model: which features it reads, and ``probability(design)``.

    Built from the dict that :meth:`to_dict` returns (the JSON file); :meth:`load` picks the
    subclass from its ``format``.
    """

    format: str = ""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if spec.get("format") != self.format:
            raise ValueError(f"not a {self.format} model (format={spec.get('format')!r})")
        features = spec["features"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise ValueError("features must be a list of feature names")
        unknown = set(features) - set(LEXICAL_FEATURES)
        if unknown:
            raise ValueError(f"model uses features this version does not compute: {sorted(unknown)}")
        self.spec = dict(spec)
        self.features = features
        self.embedding_dim = int(spec.get("embedding_dim") or 0)
        if not 0 <= self.embedding_dim <= 65536:
            raise ValueError(f"embedding_dim must be from 0 to 65536, not {self.embedding_dim}")
        self.width = len(features) + 2 * self.embedding_dim
        self.embedder = spec.get("embedder")
        self.threshold = spec.get("threshold")

    def design(
        self,
        a: Sequence[str],
        b: Sequence[str],
        similarity: np.ndarray,
        u: np.ndarray | None = None,
        v: np.ndarray | None = None,
    ) -> np.ndarray:
        return pair_design(
            a, b, similarity, u, v, features=self.features, embedding_dim=self.embedding_dim, embedder=self.embedder
        )

    def probability(self, design: np.ndarray) -> np.ndarray:
        return _sigmoid(self.log_odds(design))

    def log_odds(self, design: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _similarity_breaks(self) -> np.ndarray:
        """The similarities at which the log-odds may turn (other features fixed), sorted."""
        raise NotImplementedError

    def _split_log_odds(self, design: np.ndarray) -> tuple[np.ndarray, Any]:
        """(the part of the log-odds that does not depend on the similarity, a function of
        design rows giving the part that does). The default keeps it all in the second part."""
        return np.zeros(len(design)), self.log_odds

    def monotone_probability(self, design: np.ndarray) -> np.ndarray:
        """:meth:`probability`, made non-decreasing in the similarity: each pair scores the
        lowest probability the model gives it at any similarity from its own up to 1.0, other
        features unchanged. Exact, since the model's log-odds turn only at known breakpoints
        (tree splits; the vertex of the logistic quadratic). It never raises a score."""
        if "cosine" not in self.features:
            return self.probability(design)
        col = self.features.index("cosine")
        col_sq = self.features.index("cosine_sq") if "cosine_sq" in self.features else None
        breaks = self._similarity_breaks()
        fixed, moving = self._split_log_odds(design)
        lowest = np.empty(len(design))
        for start in range(0, len(design), _CHUNK):
            rows, points = [], []
            for i in range(start, min(start + _CHUNK, len(design))):
                s = float(design[i, col])
                inside = breaks[(breaks > s) & (breaks < 1.0)]
                pts = np.unique(np.concatenate(([s], inside, [max(s, 1.0)])))
                pts = np.concatenate((pts, (pts[:-1] + pts[1:]) / 2))  # each stretch between breakpoints
                rows.append(np.full(len(pts), i))
                points.append(pts)
            index = np.concatenate(rows)
            expanded = design[index].copy()
            sims = np.concatenate(points)
            expanded[:, col] = sims
            if col_sq is not None:
                expanded[:, col_sq] = sims * sims
            z = moving(expanded)
            chunk = np.full(min(_CHUNK, len(design) - start), np.inf)
            np.minimum.at(chunk, index - start, z)
            lowest[start : start + len(chunk)] = chunk
        return _sigmoid(fixed + lowest)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.spec)

    @staticmethod
    def load(source: str | Path | Mapping[str, Any] | None = None) -> PairModel:
        """From a dict, a JSON file path, or (None) the model shipped with the package."""
        if source is None:
            spec = json.loads(importlib.resources.files("dejacache._models").joinpath(DEFAULT_MODEL).read_text())
            where = DEFAULT_MODEL
        elif isinstance(source, Mapping):
            spec, where = source, "the model dict"
        else:
            from .._files import read_regular

            where = repr(str(source))
            data = read_regular(source, MAX_MODEL_BYTES, "pair model file")
            try:
                spec = json.loads(data)
            except (ValueError, RecursionError) as exc:
                raise ValueError(f"pair model file {where} is not valid JSON (or nested too deep): {exc}") from None
        if not isinstance(spec, Mapping):
            raise ValueError(f"pair model {where} must be a JSON object, not {type(spec).__name__}")
        kinds = {LOGISTIC_FORMAT: LogisticPairModel, TREES_FORMAT: TreesPairModel}
        fmt = spec.get("format")
        kind = kinds.get(fmt) if isinstance(fmt, str) else None
        if kind is None:
            raise ValueError(
                f"unknown pair model format {spec.get('format')!r} in {where}; expected one of {sorted(kinds)}"
            )
        try:
            return kind(spec)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError, OverflowError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"pair model {where} does not have the shape of a {kind.format} model: {detail}") from None


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class LogisticPairModel(PairModel):
    """Standardise, dot with coefficients, sigmoid."""

    format = LOGISTIC_FORMAT

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.mean = np.asarray(spec["mean"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.coef = np.asarray(spec["coef"], dtype=np.float64)
        self.intercept = float(spec["intercept"])
        if not (self.mean.shape == self.scale.shape == self.coef.shape == (self.width,)):
            raise ValueError(f"model arrays mean, scale and coef must each be a list of {self.width} numbers")

    def log_odds(self, design: np.ndarray) -> np.ndarray:
        return ((design - self.mean) / self.scale) @ self.coef + self.intercept

    def _similarity_breaks(self) -> np.ndarray:
        # The log-odds are a quadratic in the similarity s (terms s and s^2): it turns at the vertex.
        a = self.coef[self.features.index("cosine")] / self.scale[self.features.index("cosine")]
        b = 0.0
        if "cosine_sq" in self.features:
            b = self.coef[self.features.index("cosine_sq")] / self.scale[self.features.index("cosine_sq")]
        return np.array([-a / (2 * b)]) if b != 0 else np.array([])


class TreesPairModel(PairModel):
    """Gradient-boosted regression trees on the log-odds, evaluated in numpy.

    All trees' nodes live in flat arrays; a leaf has ``left == -1``. Every pair walks every
    tree at once, one level per step, so a batch costs (tree depth) vectorised steps.
    """

    format = TREES_FORMAT

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.baseline = float(spec["baseline"])
        self.roots = np.asarray(spec["roots"], dtype=np.intp)
        self.feature = np.asarray(spec["feature"], dtype=np.intp)
        self.split = np.asarray(spec["split"], dtype=np.float64)
        self.left = np.asarray(spec["left"], dtype=np.intp)
        self.right = np.asarray(spec["right"], dtype=np.intp)
        self.value = np.asarray(spec["value"], dtype=np.float64)
        n = len(self.feature)
        arrays = (self.feature, self.split, self.left, self.right, self.value)
        if self.roots.ndim != 1 or any(a.shape != (n,) for a in arrays):
            raise ValueError(
                "tree arrays feature, split, left, right and value must be flat lists with one entry per node"
            )
        inner = self.left >= 0
        if (
            (self.left < -1).any()
            or (self.roots < 0).any()
            or (self.roots >= n).any()
            or (self.left >= n).any()
            or (self.right[inner] < 0).any()
            or (self.right >= n).any()
            or (self.feature[inner] < 0).any()
            or (self.feature[inner] >= self.width).any()
        ):
            raise ValueError("tree arrays point outside the model")
        # Every path from a root must reach a leaf within n steps, or probability() would never end.
        frontier = np.unique(self.roots)
        for _ in range(n + 1):
            frontier = frontier[self.left[frontier] >= 0]
            if frontier.size == 0:
                break
            frontier = np.unique(np.concatenate([self.left[frontier], self.right[frontier]]))
        else:
            raise ValueError("tree arrays hold a cycle (a node that leads back to itself)")
        # Which trees split on the similarity (cosine, cosine_sq): only those move with it.
        similarity = [self.features.index(f) for f in ("cosine", "cosine_sq") if f in self.features]
        tree_of = np.searchsorted(self.roots, np.arange(n), side="right") - 1
        on_similarity = inner & np.isin(self.feature, similarity)
        self._moves = np.zeros(len(self.roots), dtype=bool)
        if len(self.roots) and np.all(np.diff(self.roots) > 0):
            self._moves[np.unique(tree_of[on_similarity])] = True
        else:
            self._moves[:] = True  # roots out of order: treat every tree as moving
        splits = []
        for f, col in zip(("cosine", "cosine_sq"), similarity):
            t = self.split[inner & (self.feature == col)]
            splits.append(t if f == "cosine" else np.concatenate((np.sqrt(t[t >= 0]), -np.sqrt(t[t >= 0]))))
        self._breaks = np.unique(np.concatenate(splits)) if splits else np.array([])

    def _leaves(self, design: np.ndarray, roots: np.ndarray) -> np.ndarray:
        design = np.atleast_2d(design)
        rows = np.arange(len(design))[:, None]
        node = np.broadcast_to(roots, (len(design), len(roots))).copy()
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                break
            goes_left = design[rows, self.feature[node]] <= self.split[node]
            node = np.where(inner, np.where(goes_left, self.left[node], self.right[node]), node)
        return self.value[node].sum(axis=1)

    def log_odds(self, design: np.ndarray) -> np.ndarray:
        return self.baseline + self._leaves(design, self.roots)

    def _similarity_breaks(self) -> np.ndarray:
        return self._breaks

    def _split_log_odds(self, design: np.ndarray) -> tuple[np.ndarray, Any]:
        fixed = self.baseline + self._leaves(design, self.roots[~self._moves])
        moving = self.roots[self._moves]
        return fixed, lambda rows: self._leaves(rows, moving)


class CalibratedPairEvaluator:
    """Scores a cached candidate with the probability (0-1) that it asks the same as the query.

    Two guarantees hold whatever the fitted model says: texts that are the same once
    normalised (:func:`normalised`: case, Unicode form and whitespace) score 1.0, and the score
    never falls as the similarity rises (:meth:`PairModel.monotone_probability`).

    Fits the semantic tier's evaluator interface, ``evaluate(query, candidate) -> float``,
    where both are mappings with ``"text"`` and ``"embedding"``, and the candidate has
    ``"similarity"`` (the cosine). ``threshold`` is the probability at which the model reached
    the precision it was tuned for on held-out pairs; use it as the tier's threshold.

    The shipped model was fitted on all-MiniLM-L6-v2 embeddings of Quora question pairs;
    with another embedder, fit your own (``dejacache tune --fit --out model.json``) and pass
    its path.

    >>> ev = CalibratedPairEvaluator()  # doctest: +SKIP
    >>> ev.score("How do I learn Rust?", "How can I learn Rust?", 0.93, u, v)  # doctest: +SKIP
    0.97
    """

    def __init__(self, model: str | Path | Mapping[str, Any] | PairModel | None = None) -> None:
        self.model = model if isinstance(model, PairModel) else PairModel.load(model)
        self.threshold: float | None = self.model.threshold

    def score(
        self,
        query_text: str,
        candidate_text: str,
        similarity: float,
        query_embedding: Any = None,
        candidate_embedding: Any = None,
    ) -> float:
        """Probability in [0, 1] that the two texts ask the same thing."""
        if math.isnan(float(similarity)):
            return 0.0
        if normalised(query_text) == normalised(candidate_text):
            return 1.0
        design = self.model.design(
            [query_text],
            [candidate_text],
            np.array([similarity]),
            None if query_embedding is None else np.asarray(query_embedding)[None, :],
            None if candidate_embedding is None else np.asarray(candidate_embedding)[None, :],
        )
        return float(self.model.monotone_probability(design)[0])

    def score_batch(
        self,
        a: Sequence[str],
        b: Sequence[str],
        similarity: np.ndarray,
        u: np.ndarray | None = None,
        v: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`score` for many pairs at once (rows of ``u`` and ``v`` are the embeddings)."""
        similarity = np.asarray(similarity, dtype=np.float64)
        scores = self.model.monotone_probability(self.model.design(a, b, similarity, u, v))
        scores[np.array([normalised(x) == normalised(y) for x, y in zip(a, b)], dtype=bool)] = 1.0
        scores[np.isnan(similarity)] = 0.0
        return scores

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        u = query.get("embedding")
        v = candidate.get("embedding")
        similarity = candidate.get("similarity")
        if similarity is None:
            if u is None or v is None:
                raise ValueError("candidate needs 'similarity' or both texts need 'embedding'")
            similarity = float(np.dot(np.asarray(u, np.float32), np.asarray(v, np.float32)))
        return self.score(str(query["text"]), str(candidate["text"]), float(similarity), u, v)

    def __call__(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        return self.evaluate(query, candidate)

    def bind(self, tier: Any) -> None:
        """Refuses a semantic tier whose embedder is not the one the model was fitted on: the
        coefficients of embedding directions mean nothing for another model."""
        embedder = getattr(tier, "embedder", None)
        name = getattr(embedder, "name", None)
        if self.model.embedding_dim and self.model.embedder and name and name != self.model.embedder:
            raise ValueError(
                f"this calibrated model was fitted on {self.model.embedder} embeddings but the cache "
                f"embeds with {name}; fit one for it with `dejacache tune --pairs FILE --fit --out model.json`"
            )

    def __repr__(self) -> str:
        return f"CalibratedPairEvaluator(embedder={self.model.embedder!r}, threshold={self.threshold})"
