"""dejacache.wrap on the official openai SDK, against the fake provider on 127.0.0.1."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading

import pytest

openai = pytest.importorskip("openai")

import dejacache  # noqa: E402
from fake_provider import embedding_of, provider_fixture  # noqa: E402,F401
from openai.types import Completion, CreateEmbeddingResponse  # noqa: E402
from openai.types.chat import ChatCompletion  # noqa: E402
from openai.types.responses import Response  # noqa: E402

MSGS = [{"role": "user", "content": "what is a cache"}]


def client(provider, cache, api_key="sk-test-SECRET-0001", base=None, **opts):
    raw = openai.OpenAI(api_key=api_key, base_url=(base or provider.url) + "/v1", max_retries=0)
    return dejacache.wrap(raw, cache, **opts)


def aclient(provider, cache, **opts):
    raw = openai.AsyncOpenAI(api_key="sk-test", base_url=provider.url + "/v1", max_retries=0)
    return cache.wrap(raw, **opts)


def test_importing_dejacache_does_not_import_the_sdks():
    code = "import sys, dejacache; print('openai' in sys.modules, 'anthropic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_chat_second_identical_call_reaches_no_upstream(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    first = c.chat.completions.create(model="gpt-4o", messages=MSGS)
    second = c.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert provider.counts["/v1/chat/completions"] == 1
    assert type(first) is ChatCompletion and type(second) is ChatCompletion
    assert getattr(first, "cache", False) is False and second.cache is True
    assert second.choices[0].message.content == first.choices[0].message.content == "answer #1 to what is a cache"
    assert second.usage == first.usage  # a hit reports what the original call used
    assert second.model_extra == {"cache": True}
    stats = cache.stats()
    assert stats["hits"] == 1 and stats["tokens_saved"] == first.usage.total_tokens
    assert stats["cost_saved_usd"] > 0 and stats["latency_saved_s"] > 0


def test_openai_compatible_service_through_base_url(provider):
    """DeepSeek-style usage survives the round trip and prices the savings."""
    cache = dejacache.Cache()
    c = client(provider, cache)
    first = c.chat.completions.create(model="deepseek-chat", messages=MSGS)
    hit = c.chat.completions.create(model="deepseek-chat", messages=MSGS)
    assert hit.cache is True and hit.usage.prompt_cache_hit_tokens == 4 == first.usage.prompt_cache_hit_tokens
    saved = cache.stats()["cost_saved_usd"]
    assert saved == pytest.approx(dejacache.completion_cost(first.model_dump(), model="deepseek-chat"))
    assert saved > 0


def test_parameters_and_base_url_are_part_of_the_key(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    c.chat.completions.create(model="gpt-4o", messages=MSGS)
    c.chat.completions.create(model="gpt-4o", messages=MSGS, temperature=0.2)
    c.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    other = client(provider, cache, base=provider.url.replace("127.0.0.1", "localhost"))
    other.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert provider.counts["/v1/chat/completions"] == 4
    # tuples and generators are keyed (and sent) as lists
    r = c.chat.completions.create(model="gpt-4o", messages=(m for m in MSGS))
    assert r.cache is True and provider.counts["/v1/chat/completions"] == 4


def test_completions_and_responses_hit(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    a = c.completions.create(model="gpt-3.5-turbo-instruct", prompt="say hi")
    b = c.completions.create(model="gpt-3.5-turbo-instruct", prompt="say hi")
    assert type(b) is Completion and b.cache is True and b.choices[0].text == a.choices[0].text
    r1 = c.responses.create(model="gpt-4o", input="hello")
    r2 = c.responses.create(model="gpt-4o", input="hello")
    assert type(r2) is Response and r2.cache is True and r2.output_text == r1.output_text
    assert provider.counts == {"/v1/completions": 1, "/v1/responses": 1}


def test_api_key_and_auth_headers_never_enter_keys_or_entries(provider):
    cache = dejacache.Cache()
    c = client(provider, cache, api_key="sk-live-TOPSECRET-42")
    c.chat.completions.create(
        model="gpt-4o", messages=MSGS, extra_headers={"Authorization": "Bearer sk-live-TOPSECRET-42", "X-Trace": "t1"}
    )
    hit = c.chat.completions.create(model="gpt-4o", messages=MSGS, extra_headers={"X-Trace": "t2"})
    assert hit.cache is True  # tracing headers do not split entries
    assert provider.requests[0][1]["authorization"] == "Bearer sk-live-TOPSECRET-42"
    store = cache._store
    for key in store.keys("default"):
        blob, _ = store.get(key, "default", 1e18)
        assert b"TOPSECRET" not in blob
        assert "TOPSECRET" not in key


def test_scope_by_api_key_keeps_keys_apart_under_a_hash(provider):
    cache = dejacache.Cache()
    alice = client(provider, cache, api_key="sk-alice-SECRET", scope_by_api_key=True)
    alice2 = client(provider, cache, api_key="sk-alice-SECRET", scope_by_api_key=True)
    bob = client(provider, cache, api_key="sk-bob-SECRET", scope_by_api_key=True)
    alice.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert alice2.chat.completions.create(model="gpt-4o", messages=MSGS).cache is True
    assert getattr(bob.chat.completions.create(model="gpt-4o", messages=MSGS), "cache", False) is False
    namespaces = set(cache.stats()["namespaces"])
    assert len(namespaces) == 2 and all(ns.startswith("default:") for ns in namespaces)
    assert not any("SECRET" in ns for ns in namespaces)


@pytest.mark.parametrize(
    "model, error",
    [
        ("error-400", "BadRequestError"),
        ("error-401", "AuthenticationError"),
        ("error-429", "RateLimitError"),
        ("error-500", "InternalServerError"),
    ],
)
def test_provider_errors_pass_through_and_are_not_cached(provider, model, error):
    cache = dejacache.Cache()
    c = client(provider, cache)
    for _ in range(2):
        with pytest.raises(getattr(openai, error)) as info:
            c.chat.completions.create(model=model, messages=MSGS)
        assert info.value.status_code == int(model.split("-")[1])
    assert provider.counts["/v1/chat/completions"] == 2 and len(cache) == 0


def test_timeouts_pass_through_and_are_not_cached(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    provider.delay = 0.5
    with pytest.raises(openai.APITimeoutError):
        c.chat.completions.create(model="slow", messages=MSGS, timeout=0.05)
    assert len(cache) == 0
    assert getattr(c.chat.completions.create(model="slow", messages=MSGS), "cache", False) is False


def test_concurrent_identical_misses_make_one_call(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    provider.delay = 0.3
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(c.chat.completions.create(model="slow", messages=MSGS)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert provider.counts["/v1/chat/completions"] == 1
    assert all(type(r) is ChatCompletion for r in results) and len(results) == 4
    assert len({r.choices[0].message.content for r in results}) == 1


def test_per_call_controls(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    c.chat.completions.create(model="gpt-4o", messages=MSGS, caching=False)
    c.chat.completions.create(model="gpt-4o", messages=MSGS, cache={"no-store": True})
    assert len(cache) == 0 and provider.counts["/v1/chat/completions"] == 2
    c.chat.completions.create(model="gpt-4o", messages=MSGS)
    refreshed = c.chat.completions.create(model="gpt-4o", messages=MSGS, cache={"no-cache": True})
    assert getattr(refreshed, "cache", False) is False and provider.counts["/v1/chat/completions"] == 4
    assert "caching" not in provider.requests[0][2] and "cache" not in provider.requests[1][2]
    other = c.chat.completions.create(model="gpt-4o", messages=MSGS, cache={"namespace": "tenant-b"})
    assert getattr(other, "cache", False) is False


def test_cache_control_markers_kept_for_custom_base_urls(provider):
    c = client(provider, dejacache.Cache())
    msgs = [{"role": "user", "content": [{"type": "text", "text": "long doc", "cache_control": {"type": "ephemeral"}}]}]
    c.chat.completions.create(model="gpt-4o", messages=msgs)
    assert provider.requests[0][2]["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_cache_control_markers_removed_for_the_official_host():
    from dejacache._sdk.base import WrapContext
    from dejacache._sdk.openai.endpoints import CHAT
    from dejacache._sdk.openai.streams import OMIT_TYPES

    ctx = WrapContext(
        dejacache.Cache(),
        "openai:https://api.openai.com/v1/",
        "https://api.openai.com/v1/",
        None,
        None,
        False,
        32,
        True,
        OMIT_TYPES,
        {},
    )
    msgs = [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}]}]
    kwargs, request = CHAT.prepare({"model": "gpt-4o", "messages": msgs}, {"messages": msgs}, ctx)
    assert "cache_control" not in kwargs["messages"][0]["content"][0]
    assert "cache_control" not in request["messages"][0]["content"][0]
    assert "cache_control" in msgs[0]["content"][0]  # the caller's data is left alone


# -- embeddings -----------------------------------------------------------------------------


def test_embeddings_are_cached_per_item_in_the_callers_order(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    first = c.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert type(first) is CreateEmbeddingResponse and getattr(first, "cache", False) is False
    mixed = c.embeddings.create(model="text-embedding-3-small", input=["gamma delta", "beta", "alpha", "eps"])
    assert provider.requests[-1][2]["input"] == ["gamma delta", "eps"]  # only the misses went upstream
    assert [d.index for d in mixed.data] == [0, 1, 2, 3]
    expected = [embedding_of(x) for x in ["gamma delta", "beta", "alpha", "eps"]]
    assert [pytest.approx(d.embedding, abs=1e-6) for d in mixed.data] == expected
    assert [getattr(d, "cache", False) for d in mixed.data] == [False, True, True, False]
    assert mixed.usage.prompt_tokens == 3  # what was actually sent: "gamma delta" and "eps"
    hit = c.embeddings.create(model="text-embedding-3-small", input="alpha")
    assert hit.cache is True and hit.usage.prompt_tokens == 0 and len(hit.data) == 1
    assert hit.data[0].embedding == pytest.approx(embedding_of("alpha"), abs=1e-6)
    assert provider.counts["/v1/embeddings"] == 2
    # other parameters split entries: a different dimension count is a miss
    c.embeddings.create(model="text-embedding-3-small", input=["alpha"], dimensions=4)
    assert provider.counts["/v1/embeddings"] == 3


def test_embeddings_token_inputs_and_explicit_base64(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    tokens = c.embeddings.create(model="te", input=[1, 2, 3])
    assert len(tokens.data) == 1
    assert c.embeddings.create(model="te", input=[1, 2, 3]).cache is True
    b64 = c.embeddings.create(model="te", input=["x"], encoding_format="base64")
    again = c.embeddings.create(model="te", input=["x"], encoding_format="base64")
    assert isinstance(b64.data[0].embedding, str) and again.data[0].embedding == b64.data[0].embedding
    assert provider.counts["/v1/embeddings"] == 2


async def test_async_client_hits_and_embeddings(provider):
    cache = dejacache.Cache()
    c = aclient(provider, cache)
    a = await c.chat.completions.create(model="gpt-4o", messages=MSGS)
    b = await c.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert (
        type(b) is ChatCompletion and b.cache is True and b.choices[0].message.content == a.choices[0].message.content
    )
    await c.embeddings.create(model="te", input=["p", "q"])
    e = await c.embeddings.create(model="te", input=["q", "p"])
    assert e.cache is True and [d.index for d in e.data] == [0, 1]
    assert provider.counts == {"/v1/chat/completions": 1, "/v1/embeddings": 1}


# -- the wrapper is the client --------------------------------------------------------------


def test_other_attributes_pass_through(provider):
    cache = dejacache.Cache()
    raw = openai.OpenAI(api_key="sk-test", base_url=provider.url + "/v1", max_retries=0)
    c = dejacache.wrap(raw, cache)
    assert c.__wrapped__ is raw
    assert c.api_key == "sk-test" and str(c.base_url) == provider.url + "/v1/"
    assert c.models is raw.models and c.files is raw.files
    assert c.chat.completions.with_raw_response is not None
    assert c.chat.completions.create.__wrapped__ == raw.chat.completions.create
    raw_resp = c.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSGS)
    assert json.loads(raw_resp.http_response.text)["object"] == "chat.completion"
    copy = c.with_options(timeout=5)
    assert isinstance(copy, dejacache._sdk.wrap.WrappedClient)
    copy.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert c.chat.completions.create(model="gpt-4o", messages=MSGS).cache is True
    with dejacache.wrap(openai.OpenAI(api_key="k", base_url=provider.url + "/v1"), cache) as ctx_client:
        assert ctx_client.chat.completions.create(model="gpt-4o", messages=MSGS).cache is True


def test_wrap_rejects_what_it_cannot_wrap(provider):
    cache = dejacache.Cache()
    with pytest.raises(TypeError, match="supports openai.OpenAI"):
        dejacache.wrap(object(), cache)
    c = client(provider, cache)
    with pytest.raises(TypeError, match="already wrapped"):
        dejacache.wrap(c, cache)
    with pytest.raises(TypeError, match="dejacache.Cache"):
        dejacache.wrap(openai.OpenAI(api_key="k"), {})
    with pytest.raises(ValueError, match="replay_chunk_chars"):
        dejacache.wrap(openai.OpenAI(api_key="k"), cache, replay_chunk_chars=0)


def test_embeddings_that_cannot_be_cached_go_upstream_untouched(provider):
    cache = dejacache.Cache()
    c = client(provider, cache)
    with pytest.raises(openai.BadRequestError):
        c.embeddings.create(model="error-400", input=[])  # the provider's error, not ours
    # a datetime cannot be keyed, but the SDK knows how to send it
    r = c.embeddings.create(model="te", input=["a"], extra_body={"at": datetime.datetime(2026, 1, 1)})
    assert len(r.data) == 1 and len(cache) == 0
    assert provider.requests[-1][2]["at"].startswith("2026-01-01")


async def test_async_concurrent_identical_misses_make_one_call(provider):
    import asyncio

    cache = dejacache.Cache()
    c = aclient(provider, cache)
    provider.delay = 0.3
    results = await asyncio.gather(*(c.chat.completions.create(model="slow", messages=MSGS) for _ in range(4)))
    assert provider.counts["/v1/chat/completions"] == 1
    assert all(type(r) is ChatCompletion for r in results)
    assert sum(getattr(r, "cache", False) is True for r in results) == 3  # the waiters got the shared answer
