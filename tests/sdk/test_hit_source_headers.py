"""The SDK wrappers name the tier that answered in the ``x-dejacache`` header, with the proxy's
values: ``exact`` or ``semantic`` (raw responses, and the response of a replayed stream)."""

from __future__ import annotations

import pytest

openai = pytest.importorskip("openai")

import dejacache  # noqa: E402
from dejacache import evaluation  # noqa: E402
from semantic_helpers import WordEmbedder  # noqa: E402


def semantic_cache() -> dejacache.Cache:
    # Cosine alone: the reworded questions below share their content words, not their order.
    semantic = dejacache.Semantic(embedder=WordEmbedder(), threshold=0.9, evaluator=evaluation.Cosine())
    return dejacache.Cache(semantic=semantic)


def client(provider, cache):
    return dejacache.wrap(openai.OpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache)


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_raw_hits_say_exact_or_semantic(provider):
    c = client(provider, semantic_cache())
    raw = c.chat.completions.with_raw_response
    miss = raw.create(model="gpt-4o", messages=ask("capital city of France"))
    exact = raw.create(model="gpt-4o", messages=ask("capital city of France"))
    semantic = raw.create(model="gpt-4o", messages=ask("France capital city"))  # the same content words
    assert "x-dejacache" not in miss.headers
    assert exact.headers["x-dejacache"] == "exact"
    assert semantic.headers["x-dejacache"] == "semantic"
    assert provider.total() == 1
    assert semantic.parse().choices[0].message.content == exact.parse().choices[0].message.content


def test_replayed_streams_say_exact_or_semantic(provider):
    c = client(provider, semantic_cache())
    list(c.chat.completions.create(model="gpt-4o", messages=ask("tallest mountain on earth"), stream=True))
    with c.chat.completions.create(model="gpt-4o", messages=ask("tallest mountain on earth"), stream=True) as s:
        assert s.response.headers["x-dejacache"] == "exact"
        list(s)
    with c.chat.completions.create(model="gpt-4o", messages=ask("on earth the tallest mountain"), stream=True) as s:
        assert s.response.headers["x-dejacache"] == "semantic"
        list(s)
    assert provider.total() == 1
