"""The learned pair evaluator's guarantees: identical texts are served, and more similarity never
scores lower. The shipped model needs no embedder for these: its features take any unit vectors."""

from __future__ import annotations

import numpy as np
import pytest
from dejacache._semantic.calibrated import CalibratedPairEvaluator, LogisticPairModel, normalised
from hypothesis import given, settings
from hypothesis import strategies as st

QUESTIONS = [
    "What's the capital of France?",
    "How do I learn Rust?",
    "Is 2+2 equal to 4?",
    "Why is the sky blue?",
    "What is the best phone under $200?",
    "How can I lose weight fast?",
    "Who wrote Hamlet?",
]


@pytest.fixture(scope="module")
def ev() -> CalibratedPairEvaluator:
    return CalibratedPairEvaluator()


def unit(seed: int, dim: int = 384) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_text_against_itself_is_served(ev, text):
    u = unit(1)
    assert ev.score(text, text, 1.0, u, u) == 1.0
    assert ev.score(text, text, 1.0, u, u) >= ev.threshold


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What's the capital of France?", "What's  the capital of France?"),  # a double space
        ("What's the capital of France?", "  what's the capital of france?\n"),  # case and edges
        ("How do I learn Rust?", "How do I\tlearn RUST?"),
        ("Is 2+2 equal to 4?", "Is ２+２ equal to ４?"),  # full-width digits (NFKC)
    ],
)
def test_near_identical_texts_are_served(ev, a, b):
    u, v = unit(2), unit(3)
    assert ev.score(a, b, 0.97, u, v) == 1.0
    assert ev.evaluate({"text": a, "embedding": u}, {"text": b, "embedding": v, "similarity": 0.97}) == 1.0
    scores = ev.score_batch(
        [a, a], [b, "Who wrote Hamlet?"], np.array([0.97, 0.97]), np.stack([u, u]), np.stack([v, v])
    )
    assert scores[0] == 1.0 and scores[1] < ev.threshold


def test_punctuation_still_counts():
    # "2+2" and "2-2" share their words; identity must not drop the operator.
    assert normalised("Is 2+2 equal to 4?") != normalised("Is 2-2 equal to 4?")
    assert normalised("  Is 2+2\tequal to 4? ") == normalised("is 2+2 equal to 4?")


@settings(max_examples=40, deadline=None)
@given(
    i=st.integers(0, len(QUESTIONS) - 1),
    j=st.integers(0, len(QUESTIONS) - 1),
    seed=st.integers(0, 2**16),
    low=st.floats(-1.0, 1.0),
    high=st.floats(-1.0, 1.0),
)
def test_raising_the_similarity_never_lowers_the_score(ev, i, j, seed, low, high):
    low, high = min(low, high), max(low, high)
    a, b = QUESTIONS[i], QUESTIONS[j] + " please"
    u, v = unit(seed), unit(seed + 1)
    assert ev.score(a, b, low, u, v) <= ev.score(a, b, high, u, v)


def test_monotone_over_the_model_breakpoints(ev):
    # Every split of the trees on the similarity, walked in order: the score never steps down.
    a, b = "How do I learn Rust quickly?", "What is the fastest way to learn Rust?"
    u, v = unit(7), unit(8)
    breaks = ev.model._similarity_breaks()
    sims = np.sort(np.concatenate((breaks, breaks + 1e-9, np.linspace(0.0, 1.0, 41))))
    us, vs = np.stack([u] * len(sims)), np.stack([v] * len(sims))
    scores = ev.score_batch([a] * len(sims), [b] * len(sims), sims, us, vs)
    assert np.all(np.diff(scores) >= 0)
    raw = ev.model.probability(
        ev.model.design([a] * len(sims), [b] * len(sims), sims, np.stack([u] * len(sims)), np.stack([v] * len(sims)))
    )
    assert np.all(scores <= raw + 1e-12)  # the clamp only ever lowers a score: it serves nothing new


def test_logistic_model_is_made_monotone_too():
    # A quadratic in the similarity that falls past its vertex at 0.8.
    spec = {
        "format": "dejacache-pair-logistic/1",
        "features": ["cosine", "cosine_sq"],
        "embedding_dim": 0,
        "mean": [0.0, 0.0],
        "scale": [1.0, 1.0],
        "coef": [16.0, -10.0],
        "intercept": -5.0,
        "threshold": 0.5,
    }
    model = LogisticPairModel(spec)
    ev = CalibratedPairEvaluator(model)
    sims = np.linspace(0.0, 1.0, 101)
    raw = model.probability(model.design(["a"] * 101, ["b"] * 101, sims))
    assert raw[80] > raw[100]  # the fitted curve falls near 1.0
    scores = ev.score_batch(["a"] * 101, ["b"] * 101, sims)
    assert np.all(np.diff(scores) >= 0) and np.all(scores <= raw + 1e-12)
    assert scores[100] == pytest.approx(raw[100])
