"""Fitting a pair model on labelled pairs (``dejacache tune``): logistic regression and
gradient-boosted trees, written out as the JSON the calibrated evaluator loads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .calibrated import LOGISTIC_FORMAT, TREES_FORMAT, LogisticPairModel, TreesPairModel, _sigmoid


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
        p = _sigmoid(xa @ w)
        grad = xa.T @ (p - target) + penalty * w
        hessian = (xa * (p * (1 - p))[:, None]).T @ xa + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w[:-1], float(w[-1])


def _header(features: Sequence[str], embedding_dim: int, embedder: str | None) -> dict[str, Any]:
    return {"embedder": embedder, "embedding_dim": embedding_dim, "features": list(features)}


def build_logistic(
    design: np.ndarray,
    labels: np.ndarray,
    *,
    features: Sequence[str],
    embedding_dim: int,
    l2: float,
    embedder: str | None,
) -> LogisticPairModel:
    """Fits a :class:`LogisticPairModel` on a design matrix from :func:`pair_design`."""
    mean = design.mean(axis=0)
    scale = design.std(axis=0)
    scale[scale < 1e-12] = 1.0
    coef, intercept = fit_logistic((design - mean) / scale, labels, l2)
    return LogisticPairModel(
        {
            "format": LOGISTIC_FORMAT,
            **_header(features, embedding_dim, embedder),
            "l2": l2,
            "mean": [float(m) for m in mean],
            "scale": [float(s) for s in scale],
            "coef": [round(float(c), 7) for c in coef],
            "intercept": intercept,
        }
    )


def build_trees(
    design: np.ndarray,
    labels: np.ndarray,
    *,
    features: Sequence[str],
    embedding_dim: int,
    embedder: str | None,
    trees: int = 300,
    leaves: int = 15,
    learning_rate: float = 0.1,
    seed: int = 0,
) -> TreesPairModel:
    """Fits gradient-boosted trees with scikit-learn (needed for fitting only) and keeps just
    the trees, in :class:`TreesPairModel`'s numpy form."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        raise ImportError(
            "fitting the trees model needs scikit-learn: pip install scikit-learn (or use --model logistic)"
        ) from None
    booster = HistGradientBoostingClassifier(
        max_iter=trees,
        max_leaf_nodes=leaves,
        learning_rate=learning_rate,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    ).fit(design, labels.astype(bool))
    roots: list[int] = []
    feature: list[int] = []
    split: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    for (predictor,) in booster._predictors:
        nodes = predictor.nodes
        offset = len(feature)
        roots.append(offset)
        leaf = nodes["is_leaf"].astype(bool)
        feature.extend(np.where(leaf, 0, nodes["feature_idx"]).tolist())
        split.extend(np.where(leaf, 0.0, nodes["num_threshold"]).tolist())
        # sklearn stores child indices as uint32: widen before -1 can wrap around.
        left.extend(np.where(leaf, -1, nodes["left"].astype(np.int64) + offset).tolist())
        right.extend(np.where(leaf, -1, nodes["right"].astype(np.int64) + offset).tolist())
        value.extend(np.where(leaf, nodes["value"], 0.0).tolist())
    return TreesPairModel(
        {
            "format": TREES_FORMAT,
            **_header(features, embedding_dim, embedder),
            "trees": trees,
            "leaves": leaves,
            "learning_rate": learning_rate,
            "baseline": float(np.ravel(booster._baseline_prediction)[0]),
            "roots": roots,
            "feature": feature,
            "split": split,
            "left": left,
            "right": right,
            "value": value,
        }
    )
