"""dejacache.sampling: softmax against numpy, argmax at temperature <= 0, seeded repeats."""

from __future__ import annotations

import numpy as np
import pytest
from dejacache import sampling
from hypothesis import given, settings
from hypothesis import strategies as st

scores_st = st.lists(st.floats(-1e6, 1e6, width=32), min_size=1, max_size=64)


def ref_softmax(scores, t):
    s = np.asarray(scores, np.float64) / t
    e = np.exp(s - s.max())
    return e / e.sum()


@settings(max_examples=200, deadline=None)
@given(scores_st, st.floats(1e-3, 1e3))
def test_softmax_matches_numpy(scores, t):
    p = sampling.softmax(scores, t)
    assert p.dtype == np.float32 and p.shape == (len(scores),)
    np.testing.assert_allclose(p, ref_softmax(np.float32(scores), np.float32(t)), atol=1e-6)
    assert abs(float(p.sum()) - 1.0) < 1e-5


@settings(max_examples=100, deadline=None)
@given(scores_st, st.sampled_from([0.0, -1.0, -1e9]))
def test_non_positive_temperature_is_argmax(scores, t):
    best = int(np.argmax(np.float32(scores)))
    p = sampling.softmax(scores, t)
    assert p[best] == 1.0 and p.sum() == 1.0
    assert sampling.sample(scores, t) == best
    assert sampling.sample(scores, t, seed=3) == best


@settings(max_examples=100, deadline=None)
@given(scores_st, st.floats(1e-2, 1e2), st.integers(-(2**70), 2**70))
def test_seeded_samples_repeat(scores, t, seed):
    first = sampling.sample(scores, t, seed=seed)
    assert 0 <= first < len(scores)
    assert all(sampling.sample(scores, t, seed=seed) == first for _ in range(3))


def test_seeds_spread_draws_like_the_probabilities():
    scores = [0.0, 1.0, 2.0]
    counts = np.bincount([sampling.sample(scores, seed=s) for s in range(20000)], minlength=3)
    np.testing.assert_allclose(counts / 20000, ref_softmax(scores, 1.0), atol=0.015)


def test_unseeded_draws_vary():
    draws = {sampling.sample([0.0] * 16) for _ in range(200)}
    assert len(draws) > 5


def test_huge_scores_do_not_overflow():
    np.testing.assert_allclose(sampling.softmax([1e30, 1e30 - 1e24, -1e30]), [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(sampling.softmax([1000.0, 1001.0]), ref_softmax([0.0, 1.0], 1.0), atol=1e-6)


def test_neg_inf_is_never_chosen():
    scores = [float("-inf"), 0.0, float("-inf")]
    assert sampling.softmax(scores).tolist() == [0.0, 1.0, 0.0]
    assert {sampling.sample(scores, 10.0, seed=s) for s in range(50)} == {1}


@pytest.mark.parametrize(
    "scores, t, match",
    [
        ([], 1.0, "at least one"),
        ([1.0, float("nan")], 1.0, r"scores\[1\] is NaN"),
        ([float("inf")], 1.0, "finite"),
        ([float("-inf")], 1.0, "every score"),
        ([[1.0, 2.0]], 1.0, "1-D"),
        ([1.0], float("nan"), "temperature"),
    ],
)
def test_bad_input_raises_value_error(scores, t, match):
    with pytest.raises(ValueError, match=match):
        sampling.softmax(scores, t)
    with pytest.raises(ValueError, match=match):
        sampling.sample(scores, t, seed=0)


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="real numbers"):
        sampling.softmax(["a"])
    with pytest.raises(TypeError, match="temperature"):
        sampling.softmax([1.0], "hot")
    with pytest.raises(TypeError, match="seed"):
        sampling.sample([1.0], seed=1.5)
