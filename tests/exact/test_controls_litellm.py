"""LiteLLM's per-request switch (cache={"use-cache": True}) with an opt-in cache, LiteLLM's per-call
internals kept out of the key, and TimeDecay refusing a candidate of unknown age."""

from __future__ import annotations

import dejacache
import pytest
from dejacache import evaluation as e

REQ = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is a cache?"}], "temperature": 0.2}


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request):
        self.calls += 1
        return {"answer": self.calls}


# -- 8. use-cache and opt-in caches --------------------------------------------------------------


def test_use_cache_is_accepted_by_a_default_cache():
    cache, llm = dejacache.Cache(), Counter()
    cache.call(REQ, llm, cache={"use-cache": True})
    assert cache.call(REQ, llm, cache={"use-cache": True}).get("cache") is True
    assert llm.calls == 1
    # use-cache False is a bypass, like caching=False.
    assert "cache" not in cache.call(REQ, llm, cache={"use-cache": False})
    assert llm.calls == 2


def test_an_opt_in_cache_serves_and_stores_only_when_asked():
    cache, llm = dejacache.Cache(opt_in=True), Counter()
    cache.call(REQ, llm)
    cache.call(REQ, llm)
    assert llm.calls == 2 and cache.stats()["entries"] == 0
    cache.call(REQ, llm, cache={"use-cache": True})
    assert cache.stats()["entries"] == 1 and llm.calls == 3
    assert cache.call(REQ, llm) == {"answer": 4}  # not asked: not read
    assert cache.call(REQ, llm, cache={"use-cache": True}) == {"answer": 3, "cache": True}
    # In the request itself, as LiteLLM passes it; never part of the key.
    assert cache.call({**REQ, "cache": {"use-cache": True}}, llm) == {"answer": 3, "cache": True}
    assert cache.get(REQ) is None and cache.get(REQ, cache={"use-cache": True}) is not None
    # The other controls still apply once the cache is on; caching=False always wins.
    assert "cache" not in cache.call(REQ, llm, cache={"use-cache": True, "no-cache": True})
    assert "cache" not in cache.call(REQ, llm, caching=False, cache={"use-cache": True})


def test_opt_in_is_checked_and_configurable():
    with pytest.raises(ValueError, match="opt_in"):
        dejacache.Cache(opt_in="yes")
    with pytest.raises(ValueError, match="use-cache"):
        dejacache.Cache().call(REQ, Counter(), cache={"use-cache": "yes"})
    with pytest.raises(ValueError, match="'use-cache'"):
        dejacache.Cache().call(REQ, Counter(), cache={"use_cahce": True})
    assert dejacache.Cache.from_config({"opt_in": True}).opt_in is True


# -- 9. LiteLLM's per-call internals -----------------------------------------------------------

INTERNALS = {
    "litellm_logging_obj": "<Logging object>",
    "client": "<openai.OpenAI object>",
    "proxy_server_request": {"url": "http://0.0.0.0:4000/chat/completions", "headers": {"x-request-id": "r1"}},
    "model_info": {"id": "deployment-7", "db_model": False},
    "litellm_trace_id": "t-1",
    "litellm_session_id": "s-1",
    "litellm_call_id": "c-1",
    "preset_cache_key": None,
    "acompletion": True,
    "langfuse_public_key": "pk",
    "tags": ["team-a"],
    "stream_timeout": 30,
}


def test_litellm_internals_do_not_change_the_key():
    cache = dejacache.Cache()
    assert cache.key({**REQ, **INTERNALS}) == cache.key(REQ)
    llm = Counter()
    cache.call(REQ, llm)
    assert cache.call({**REQ, **INTERNALS, "litellm_call_id": "c-2"}, llm).get("cache") is True


def test_keys_of_requests_without_them_are_unchanged():
    # Pinned: widening the excluded set leaves every other key as it was (no key-schema change).
    assert dejacache.Cache().key(REQ) == "5e1c29b42b69c3b81ce1ee5711dec196"


@pytest.mark.parametrize(
    "param",
    [
        "api_base",
        "custom_llm_provider",
        "mock_response",
        "fallbacks",
        "litellm_system_prompt",
        "prompt_id",
        "initial_prompt_value",
    ],
)
def test_litellm_kwargs_that_change_the_answer_stay_in_the_key(param):
    assert dejacache.Cache().key({**REQ, param: "x"}) != dejacache.Cache().key(REQ)


# -- 10. TimeDecay and an unknown age -----------------------------------------------------------


@pytest.mark.parametrize(
    "candidate",
    [
        {"similarity": 0.99},
        {"similarity": 0.99, "age": None},
        {"similarity": 0.99, "age": "recent"},
        {"similarity": 0.99, "age": float("nan")},
    ],
)
def test_time_decay_refuses_an_unknown_age(candidate):
    assert e.TimeDecay(e.Cosine(), max_age=3600).evaluate({}, candidate) == 0.0
    assert e.TimeDecay(e.Cosine(), half_life=60).evaluate({}, candidate) == 0.0


def test_time_decay_with_a_known_age():
    ev = e.TimeDecay(e.Cosine(), max_age=3600)
    assert ev.evaluate({}, {"similarity": 0.99, "age": 0}) == pytest.approx(0.99)
    assert ev.evaluate({}, {"similarity": 0.99, "age": 3601.0}) == 0.0
