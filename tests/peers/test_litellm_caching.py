"""LiteLLM's caching expectations (tests/test_litellm/caching/*: key equivalences and the
per-request cache controls), asked of dejacache. Differences are asserted as dejacache's
behaviour with the reason, and listed in the README."""

from __future__ import annotations

import dejacache
import pytest

BASE = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def key(request):
    return dejacache.Cache().key(request)


class Provider:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request):
        self.calls += 1
        return {"id": f"r{self.calls}"}


# -- key equivalences ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o"},
        {"temperature": 0.5},
        {"max_tokens": 10},
        {"user": "u1"},
        {"seed": 1},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"messages": [{"role": "user", "content": "b"}]},
    ],
)
def test_answer_changing_parameters_change_the_key(change):
    assert key({**BASE, **change}) != key(BASE)


@pytest.mark.parametrize(
    "extra",
    [
        {"metadata": {"a": 1}, "litellm_call_id": "x"},
        {"timeout": 3},
        {"api_key": "sk-test"},
        {"litellm_logging_obj": "<logging>", "proxy_server_request": {"a": 1}, "model_info": {"id": 1}},
    ],
)
def test_tracing_and_transport_do_not_change_the_key(extra):
    assert key({**BASE, **extra}) == key(BASE)


def test_stream_is_not_in_the_key():
    # Difference: LiteLLM keys stream=True apart from the same request unstreamed; dejacache
    # keeps them together, because a stored complete answer replays as a stream.
    assert key({**BASE, "stream": True}) == key(BASE)


def test_message_key_order_does_not_matter():
    # Difference: LiteLLM hashes str(messages), so {"role", "content"} and {"content", "role"}
    # miss each other; dejacache's canonical form sorts keys at every depth.
    assert key({"model": "m", "messages": [{"role": "user", "content": "a"}]}) == key(
        {"model": "m", "messages": [{"content": "a", "role": "user"}]}
    )


def test_tenants_are_isolated_by_namespace():
    # LiteLLM scopes by metadata (redis_namespace, user_api_key); dejacache by namespace=.
    cache, llm = dejacache.Cache(), Provider()
    cache.call(BASE, llm, namespace="hash-A")
    assert "cache" not in cache.call(BASE, llm, namespace="hash-B")
    assert cache.call(BASE, llm, namespace="hash-A").get("cache") is True


# -- per-request controls ----------------------------------------------------------------------


def test_no_cache_refreshes_and_no_store_reads_only():
    cache, llm = dejacache.Cache(), Provider()
    cache.call(BASE, llm)
    fresh = cache.call(BASE, llm, cache={"no-cache": True})
    assert "cache" not in fresh and llm.calls == 2
    assert cache.call(BASE, llm)["id"] == "r2"  # the refresh was stored
    other = {**BASE, "temperature": 0.1}
    cache.call(other, llm, cache={"no-store": True})
    assert "cache" not in cache.call(other, llm)


def test_ttl_and_s_maxage():
    now = [1000.0]
    cache, llm = dejacache.Cache(clock=lambda: now[0]), Provider()
    cache.call(BASE, llm, cache={"ttl": 10})
    now[0] += 5
    assert cache.call(BASE, llm, cache={"s-maxage": 10}).get("cache") is True
    assert "cache" not in cache.call(BASE, llm, cache={"s-maxage": 1, "no-store": True})
    now[0] += 20  # past the entry's own ttl
    assert "cache" not in cache.call(BASE, llm, cache={"no-store": True})


def test_use_cache_with_a_cache_off_by_default():
    cache, llm = dejacache.Cache(opt_in=True), Provider()
    cache.call(BASE, llm)
    assert "cache" not in cache.call(BASE, llm)
    cache.call(BASE, llm, cache={"use-cache": True})
    assert cache.call(BASE, llm, cache={"use-cache": True}).get("cache") is True
