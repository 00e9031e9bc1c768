"""GPTCache's own expectations for its stages (tests/unit_tests/processor/*,
tests/unit_tests/similarity_evaluation/*), asked of dejacache's equivalents.

The inputs and expected values are GPTCache's; where dejacache differs on purpose, the test
asserts dejacache's behaviour and says why (the README lists these differences).
"""

from __future__ import annotations

import numpy as np
import pytest
from dejacache import evaluation as e
from dejacache import postprocess as post
from dejacache import preprocess as pre

CHAT = {"messages": [{"content": "foo1"}, {"content": "foo2"}]}


# -- processor/test_pre.py ---------------------------------------------------------------------


def test_last_content():
    assert pre.last_content(CHAT) == "foo2"
    assert pre.get_messages_last_content(CHAT) == "foo2"


def test_last_content_without_prompt():
    assert pre.last_content_without_prompt(["foo"])(CHAT) == "2"
    # Difference: GPTCache accepts prompts=None and then returns the last content unchanged;
    # dejacache refuses an empty prompt list (that pre-processor is last_content) with a clear error.
    with pytest.raises(ValueError, match="prompts"):
        pre.last_content_without_prompt([])
    assert pre.last_content(CHAT) == "foo2"


def test_all_content():
    # GPTCache returns "foo1\nfoo2"; dejacache embeds exactly that and stores the turns with a
    # separator no message contains, so (stored, embedded) differ only in the joint.
    stored, embedded = pre.all_content(CHAT)
    assert embedded == "foo1\nfoo2"
    assert stored.split(pre.TURN_SEPARATOR) == ["foo1", "foo2"]


def test_get_prompt():
    assert pre.get_prompt({"prompt": "foo"}) == "foo"


def test_get_openai_moderation_input():
    # Difference: GPTCache embeds Python's repr of the list ("['hello', 'world']"); dejacache
    # embeds the inputs themselves, one a line, so quoting never changes a match.
    assert pre.get_openai_moderation_input({"input": ["hello", "world"]}) == "hello\nworld"
    assert pre.get_openai_moderation_input({"input": "hello"}) == "hello"


def test_concat_context_keeps_something_to_embed():
    chat = [
        {"role": "user", "content": "What is the meaning of life? Explain it in 5 paragraphs."},
        {"role": "system", "content": "The meaning of life is a philosophical question. " * 20},
        {"role": "user", "content": "Shouldn't the answer be 42?"},
        {"role": "system", "content": "The answer 42 is a reference to a famous book. " * 10},
    ]
    text = pre.concat_all_queries({"messages": chat})
    embedded = text[1] if isinstance(text, tuple) else text
    assert len(embedded) > 0 and "42" in embedded


# -- processor/test_post.py --------------------------------------------------------------------


def candidates(*answers, scores=None):
    scores = scores or [1.0] * len(answers)
    return [{"response": a, "score": s} for a, s in zip(answers, scores)]


def test_first_and_random():
    assert post.first(candidates("foo", "foo2"))["response"] == "foo"
    assert post.random(candidates("foo", "foo2"))["response"] in ("foo", "foo2")


@pytest.mark.parametrize(("scores", "best"), [([0.9, 0.1], "foo"), ([0.1, 0.9], "foo2")])
def test_temperature_softmax_at_zero_serves_the_best(scores, best):
    chosen = post.TemperatureSoftmax(temperature=0.0)(candidates("foo", "foo2", scores=scores))
    assert chosen["response"] == best


def test_temperature_softmax_draws_a_candidate():
    chosen = post.TemperatureSoftmax(temperature=0.5, seed=1)(candidates("foo", "foo2", scores=[0.0, 1.0]))
    assert chosen["response"] in ("foo", "foo2")


# -- similarity_evaluation ---------------------------------------------------------------------


def test_exact_match_evaluation():
    assert e.ExactMatch().evaluate({"text": "hello"}, {"text": "hello"}) == 1.0
    assert e.ExactMatch().evaluate({"text": "tello"}, {"text": "hello"}) == 0.0


def test_search_distance_evaluation():
    # Difference: GPTCache rescales a distance (4 - distance, range 0-4: distance 1 scores 3.0);
    # dejacache scores the cosine similarity itself, in [0, 1], so thresholds read as cosines.
    assert e.Cosine().evaluate({}, {"similarity": 0.75}) == 0.75
    assert e.Cosine().evaluate({}, {"similarity": -1.0}) == 0.0


def test_numpy_norm_evaluation():
    # GPTCache: opposite directions score 2.0 and the same direction 0.0 (a distance of
    # normalised vectors). dejacache's Cosine of the same vectors: 0.0 and 1.0 (a similarity).
    opposite = e.Cosine().evaluate({"embedding": np.array([-0.5, -0.5])}, {"embedding": np.array([1.0, 1.0])})
    same = e.Cosine().evaluate({"embedding": np.array([1.0, 2, 3, 4])}, {"embedding": np.array([0.1, 0.2, 0.3, 0.4])})
    assert opposite == 0.0 and same == pytest.approx(1.0)


def test_time_evaluation():
    # GPTCache's TimeEvaluation(time_range=2): no cache data or no creation time -> the lowest
    # score; created long ago -> the lowest; created now -> the wrapped evaluation's score.
    ev = e.TimeDecay(e.Cosine(), max_age=2)
    assert ev.evaluate({}, {"similarity": 0.875}) == 0.0
    assert ev.evaluate({}, {"similarity": 0.875, "age": None}) == 0.0
    assert ev.evaluate({}, {"similarity": 0.875, "age": 3 * 365 * 86400.0}) == 0.0
    assert ev.evaluate({}, {"similarity": 0.875, "age": 0.0}) == 0.875
