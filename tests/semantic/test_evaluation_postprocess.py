import math

import numpy as np
import pytest
from dejacache import evaluation as e
from dejacache import postprocess as pp
from dejacache.preprocess import TURN_SEPARATOR
from semantic_helpers import WordEmbedder


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def test_cosine_uses_index_similarity_or_embeddings():
    assert e.Cosine().evaluate({}, {"similarity": 0.91}) == pytest.approx(0.91)
    assert e.Cosine().evaluate({}, {"similarity": -0.3}) == 0.0
    q, c = unit([1, 0]), unit([1, 1])
    assert e.Cosine().evaluate({"embedding": q}, {"embedding": c}) == pytest.approx(math.sqrt(0.5), rel=1e-5)


def test_exact_match():
    assert e.ExactMatch().evaluate({"text": "a"}, {"text": "a"}) == 1.0
    assert e.ExactMatch().evaluate({"text": "a"}, {"text": "A"}) == 0.0


def test_pair_scorer_kinds_and_clipping():
    assert e.PairScorer(lambda a, b: 0.7).evaluate({"text": "a"}, {"text": "b"}) == pytest.approx(0.7)
    assert e.PairScorer(lambda a, b: 3.0).evaluate({"text": "a"}, {"text": "b"}) == 1.0
    assert e.PairScorer(lambda a, b: float("nan")).evaluate({"text": "a"}, {"text": "b"}) == 0.0

    class Model:
        def predict(self, pairs):
            return np.array([0.25 if pairs[0][0] != pairs[0][1] else 0.99])

    assert e.PairScorer(Model()).evaluate({"text": "x"}, {"text": "x"}) == pytest.approx(0.99)
    with pytest.raises(TypeError):
        e.PairScorer(42)


def test_time_decay_refuses_stale_and_halves():
    ev = e.TimeDecay(e.Cosine(), max_age=100, half_life=10)
    assert ev.evaluate({}, {"similarity": 0.9, "age": 0.0}) == pytest.approx(0.9)
    assert ev.evaluate({}, {"similarity": 0.9, "age": 10.0}) == pytest.approx(0.45)
    assert ev.evaluate({}, {"similarity": 1.0, "age": 101.0}) == 0.0
    with pytest.raises(ValueError):
        e.TimeDecay(e.Cosine())
    with pytest.raises(ValueError):
        e.TimeDecay(e.Cosine(), max_age=-1)


def test_combinations():
    hi, lo = (lambda q, c: 0.9), (lambda q, c: 0.2)
    assert e.AllOf(hi, lo).evaluate({}, {}) == pytest.approx(0.2)
    assert e.AnyOf(hi, lo).evaluate({}, {}) == pytest.approx(0.9)
    assert e.Weighted([(hi, 3), (lo, 1)]).evaluate({}, {}) == pytest.approx(0.725)
    with pytest.raises(ValueError):
        e.AllOf()
    with pytest.raises(ValueError):
        e.Weighted([(hi, 0)])


def test_sequence_match_compares_turn_by_turn():
    ev = e.SequenceMatch(weights=[0.5, 0.5], embedder=WordEmbedder())
    a = TURN_SEPARATOR.join(["USER: capital France", "USER: population"])
    b = TURN_SEPARATOR.join(["USER: capital France", "USER: population"])
    c = TURN_SEPARATOR.join(["USER: capital Germany", "USER: population"])
    assert ev.evaluate({"text": a}, {"text": b}) == pytest.approx(1.0, abs=1e-5)
    assert ev.evaluate({"text": a}, {"text": c}) < 0.95
    # A different number of turns in the window never matches.
    assert ev.evaluate({"text": a}, {"text": "USER: population"}) == 0.0
    with pytest.raises(RuntimeError):
        e.SequenceMatch().evaluate({"text": a}, {"text": b})


def test_kreciprocal_refuses_query_outside_candidates_neighbourhood():
    class Tier:
        def __init__(self, sims):
            self.sims = sims

        def neighbour_similarities(self, candidate, k):
            return self.sims[:k]

    ev = e.KReciprocal(k=2)
    ev.bind(Tier([0.99, 0.97]))
    # The candidate has two closer neighbours than the query: not reciprocal.
    assert ev.evaluate({}, {"similarity": 0.95}) == 0.0
    ev.bind(Tier([0.99, 0.90]))
    assert ev.evaluate({}, {"similarity": 0.95}) == pytest.approx(0.95)
    ev.bind(Tier([]))
    assert ev.evaluate({}, {"similarity": 0.95}) == pytest.approx(0.95)
    with pytest.raises(RuntimeError):
        e.KReciprocal().evaluate({}, {"similarity": 0.9})


def test_postprocessors():
    cands = [{"score": 0.99, "response": "a"}, {"score": 0.98, "response": "b"}, {"score": 0.97, "response": "c"}]
    assert pp.first(cands)["response"] == "a"
    r = pp.RandomChoice(seed=3)
    seen = {r(cands)["response"] for _ in range(200)}
    assert seen == {"a", "b", "c"}
    assert pp.TemperatureSoftmax(temperature=0)(cands)["response"] == "a"
    assert pp.TemperatureSoftmax(temperature=0.5)(cands[:1])["response"] == "a"
    with pytest.raises(ValueError):
        pp.TemperatureSoftmax(temperature=-1)


def test_temperature_softmax_uses_the_core_sampler():
    pytest.importorskip("dejacache.sampling")
    cands = [{"score": 1.0, "response": "a"}, {"score": 0.0, "response": "b"}]
    hot = pp.TemperatureSoftmax(temperature=100.0, seed=11)
    seen = {hot(cands)["response"] for _ in range(200)}
    assert seen == {"a", "b"}
    cold = pp.TemperatureSoftmax(temperature=0.01, seed=11)
    assert {cold(cands)["response"] for _ in range(50)} == {"a"}


def test_numbers_agree():
    ev = e.NumbersAgree()
    assert ev.evaluate({"text": "What is 2+2?"}, {"text": "what's 2 + 2"}) == 1.0
    assert ev.evaluate({"text": "What is 2+2?"}, {"text": "What is 2+3?"}) == 0.0
    assert ev.evaluate({"text": "I found a thousand bucks"}, {"text": "I found a hundred bucks"}) == 0.0
    assert ev.evaluate({"text": "1,000 users"}, {"text": "1000 users"}) == 1.0
    assert ev.evaluate({"text": "Which one is best?"}, {"text": "Which is best?"}) == 1.0  # "one" is not a number


def test_token_sequence():
    ev = e.TokenSequence()
    assert ev.evaluate({"text": "How do I learn Rust?"}, {"text": "how do i learn rust"}) == 1.0
    assert ev.evaluate({"text": "What do Croats think of Turks?"}, {"text": "What do Turks think of Croats?"}) < 0.7
