"""The semantic tier embeds bounded texts only (issue 15, item 13)."""

from __future__ import annotations

import dejacache
import pytest
from dejacache import ConfigError, Semantic, evaluation
from semantic_helpers import WordEmbedder


def chat(text: str) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


def make(**semantic) -> tuple[dejacache.Cache, WordEmbedder]:
    emb = WordEmbedder()
    cache = dejacache.Cache(semantic=Semantic(embedder=emb, threshold=0.9, evaluator=evaluation.Cosine(), **semantic))
    return cache, emb


def test_a_text_over_the_cap_skips_the_semantic_tier_but_not_the_exact_one() -> None:
    cache, emb = make(max_text_chars=1000)
    long_a = "alpha beta gamma " * 100 + "the end is one"
    long_b = "alpha beta gamma " * 100 + "the end is two"  # same prefix, a different question
    cache.put(chat(long_a), {"v": 1})
    assert emb.texts_embedded == 0  # nothing normalised or embedded past the cap
    assert cache.get(chat(long_a)) is not None  # exact hit
    assert cache.get(chat(long_b)) is None  # never a semantic hit from a shared prefix
    assert emb.texts_embedded == 0
    cache.put(chat("what is the capital of France"), {"v": 2})
    hit = cache.get(chat("What is the capital of France?"))
    assert hit is not None and hit.response == {"v": 2}
    cache.put_many([(chat(long_b), {"v": 3})])  # the bulk path checks the cap too
    assert emb.texts_embedded == 2


def test_the_default_cap_is_a_few_thousand_tokens_and_none_lifts_it() -> None:
    assert Semantic().max_text_chars == 16_000
    cache, emb = make()
    cache.get(chat("word " * 4_000))  # 20,000 characters
    assert emb.texts_embedded == 0
    cache, emb = make(max_text_chars=None)
    cache.get(chat("word " * 4_000))
    assert emb.texts_embedded == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "100"])
def test_bad_caps_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="max_text_chars"):
        Semantic(max_text_chars=bad)


def test_the_cap_can_be_set_from_a_config(tmp_path) -> None:
    from dejacache._config import _semantic

    assert _semantic({"max_text_chars": 500}, "semantic").max_text_chars == 500
    with pytest.raises(ConfigError, match="max_text_chars"):
        _semantic({"max_text_chars": 0}, "semantic")
