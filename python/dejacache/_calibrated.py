"""A learned pair evaluator: the probability that two texts ask the same thing.

Logistic regression over :mod:`dejacache._pair_features` (cosine, lexical overlap, number,
negation, question-word and name mismatches, and the element-wise product and difference of
the two embeddings), fitted on labelled pairs by ``dejacache tune --fit``. Only coefficients
are stored (a small JSON file); no training text ships with the package. Inference is numpy
only.
"""

from __future__ import annotations

import importlib.resources
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._pair_features import LEXICAL_FEATURES, embedding_features, lexical_features

MODEL_FORMAT = "dejacache-pair-logistic/1"
#: the model shipped with the package, fitted on all-MiniLM-L6-v2 embeddings
DEFAULT_MODEL = "pair_minilm_l6.json"


class PairModel:
    """Standardise, dot with coefficients, sigmoid. Built from the dict :meth:`to_dict` writes."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if spec.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} model (format={spec.get('format')!r})")
        features = list(spec["features"])
        unknown = set(features) - set(LEXICAL_FEATURES)
        if unknown:
            raise ValueError(f"model uses features this version does not compute: {sorted(unknown)}")
        self.spec = dict(spec)
        self.features = features
        self._columns = np.array([LEXICAL_FEATURES.index(f) for f in features], dtype=np.intp)
        self.embedding_dim = int(spec.get("embedding_dim") or 0)
        width = len(features) + 2 * self.embedding_dim
        self.mean = np.asarray(spec["mean"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.coef = np.asarray(spec["coef"], dtype=np.float64)
        self.intercept = float(spec["intercept"])
        if not (len(self.mean) == len(self.scale) == len(self.coef) == width):
            raise ValueError(f"model arrays must all have {width} values")
        self.embedder = spec.get("embedder")
        self.threshold = spec.get("threshold")

    def design(self, a: Sequence[str], b: Sequence[str], similarity: np.ndarray,
               u: np.ndarray | None = None, v: np.ndarray | None = None) -> np.ndarray:
        """The raw feature matrix of a batch of pairs (before standardisation)."""
        lexical = np.array([lexical_features(x, y, float(s)) for x, y, s in zip(a, b, similarity)], dtype=np.float64)
        lexical = lexical.reshape(len(a), len(LEXICAL_FEATURES))[:, self._columns]
        if not self.embedding_dim:
            return lexical
        if u is None or v is None:
            raise ValueError("this model needs both texts' embeddings (query['embedding'], candidate['embedding'])")
        u = np.asarray(u, dtype=np.float64).reshape(len(a), -1)
        v = np.asarray(v, dtype=np.float64).reshape(len(a), -1)
        if u.shape[1] != self.embedding_dim or v.shape[1] != self.embedding_dim:
            raise ValueError(
                f"this model was fitted on {self.embedding_dim}-dimensional embeddings ({self.embedder}); "
                f"got {u.shape[1]} and {v.shape[1]}: fit one for your embedder with `dejacache tune --fit`"
            )
        return np.hstack([lexical, embedding_features(u, v)])

    def probability(self, design: np.ndarray) -> np.ndarray:
        z = ((design - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.spec)

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any] | None = None) -> PairModel:
        """From a dict, a JSON file path, or (None) the model shipped with the package."""
        if source is None:
            text = importlib.resources.files("dejacache._models").joinpath(DEFAULT_MODEL).read_text()
            return cls(json.loads(text))
        if isinstance(source, Mapping):
            return cls(source)
        return cls(json.loads(Path(source).read_text()))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 30) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on already standardised ``x``.

    The intercept is not penalised. Converges in well under ``iterations`` steps for the
    feature counts used here (a few hundred columns).
    """
    n, d = x.shape
    xa = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    target = y.astype(np.float64)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xa @ w, -40, 40)))
        grad = xa.T @ (p - target) + penalty * w
        hessian = (xa * (p * (1 - p))[:, None]).T @ xa + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w[:-1], float(w[-1])


def build_model(design: np.ndarray, labels: np.ndarray, *, features: Sequence[str], embedding_dim: int,
                l2: float, embedder: str | None) -> PairModel:
    """Fits a :class:`PairModel` on a design matrix from :meth:`PairModel.design`."""
    mean = design.mean(axis=0)
    scale = design.std(axis=0)
    scale[scale < 1e-12] = 1.0
    coef, intercept = fit_logistic((design - mean) / scale, labels, l2)
    return PairModel(
        {
            "format": MODEL_FORMAT,
            "embedder": embedder,
            "embedding_dim": embedding_dim,
            "features": list(features),
            "l2": l2,
            "mean": [round(float(m), 7) for m in mean],
            "scale": [round(float(s), 7) for s in scale],
            "coef": [round(float(c), 6) for c in coef],
            "intercept": round(intercept, 6),
        }
    )


class CalibratedPairEvaluator:
    """Scores a cached candidate with the probability (0-1) that it asks the same as the query.

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

    def score(self, query_text: str, candidate_text: str, similarity: float,
              query_embedding: Any = None, candidate_embedding: Any = None) -> float:
        """Probability in [0, 1] that the two texts ask the same thing."""
        if math.isnan(float(similarity)):
            return 0.0
        design = self.model.design([query_text], [candidate_text], np.array([similarity]),
                                   None if query_embedding is None else np.asarray(query_embedding)[None, :],
                                   None if candidate_embedding is None else np.asarray(candidate_embedding)[None, :])
        return float(self.model.probability(design)[0])

    def score_batch(self, a: Sequence[str], b: Sequence[str], similarity: np.ndarray,
                    u: np.ndarray | None = None, v: np.ndarray | None = None) -> np.ndarray:
        """:meth:`score` for many pairs at once (rows of ``u`` and ``v`` are the embeddings)."""
        return self.model.probability(self.model.design(a, b, np.asarray(similarity, dtype=np.float64), u, v))

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
