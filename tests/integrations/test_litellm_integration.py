"""dejacache behind LiteLLM's own cache hook (dejacache.integrations.litellm), against the fake
provider on 127.0.0.1 and LiteLLM's mock_response: sync, async, streamed, embeddings."""

from __future__ import annotations

import asyncio
import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price map at import
litellm = pytest.importorskip("litellm")

import dejacache  # noqa: E402
from dejacache import Semantic, evaluation  # noqa: E402
from dejacache.integrations import litellm as dc_litellm  # noqa: E402
from fake_provider import provider_fixture  # noqa: E402,F401
from semantic_helpers import WordEmbedder  # noqa: E402

MODEL = "openai/gpt-4o-mini"


def msgs(text: str = "Tell me a joke.") -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def enabled():
    """Enables dejacache for LiteLLM with a fresh cache (or the one passed), disables afterwards."""
    made = []

    def enable(cache=None):
        cache = cache if cache is not None else dejacache.Cache()
        made.append(dc_litellm.enable(cache))
        return cache

    yield enable
    dc_litellm.disable()
    assert litellm.cache is None


@pytest.fixture
def call(provider):
    def completion(messages=None, **kw):
        return litellm.completion(
            model=MODEL, messages=messages or msgs(), api_base=provider.url + "/v1", api_key="sk-test", **kw
        )

    return completion


def chat_calls(provider) -> int:
    return provider.counts["/v1/chat/completions"]


def is_hit(response) -> bool:
    return response._hidden_params.get("cache_hit") is True


# -- sync, async, the mark on a hit -------------------------------------------------------------


def test_sync_hit_is_marked_like_litellm_marks_its_own(enabled, call, provider):
    cache = enabled()
    first = call()
    again = call()
    assert chat_calls(provider) == 1
    assert not is_hit(first) and is_hit(again)
    assert getattr(again, "cache", False) is True  # the guide's `cache=True`
    assert isinstance(again, litellm.ModelResponse)
    assert again.choices[0].message.content == first.choices[0].message.content
    stats = cache.stats()
    assert (stats["hits"], stats["stores"]) == (1, 1)


async def test_async_hit(enabled, provider):
    cache = enabled()
    kw = dict(model=MODEL, messages=msgs("async"), api_base=provider.url + "/v1", api_key="sk-test")
    first = await litellm.acompletion(**kw)
    for _ in range(50):  # LiteLLM writes async answers in a background task
        if len(cache):
            break
        await asyncio.sleep(0.01)
    again = await litellm.acompletion(**kw)
    assert chat_calls(provider) == 1 and is_hit(again)
    assert again.choices[0].message.content == first.choices[0].message.content


def test_mock_response_calls_are_cached(enabled):
    enabled()
    kw = dict(model="gpt-4o-mini", messages=msgs("mocked"), mock_response="a mocked answer")
    assert not is_hit(litellm.completion(**kw))
    assert is_hit(litellm.completion(**kw))


# -- streams ---------------------------------------------------------------------------------------


def test_streamed_miss_is_stored_and_a_streamed_hit_replays(enabled, call, provider):
    enabled()
    text = "".join(c.choices[0].delta.content or "" for c in call(msgs("stream me"), stream=True))
    replay = call(msgs("stream me"), stream=True)
    chunks = list(replay)
    assert chat_calls(provider) == 1
    assert len(chunks) > 1 and "".join(c.choices[0].delta.content or "" for c in chunks) == text
    plain = call(msgs("stream me"))  # a stored stream answers an unstreamed call too
    assert is_hit(plain) and plain.choices[0].message.content == text


async def test_async_stream_replays_an_unstreamed_answer(enabled, provider):
    cache = enabled()
    kw = dict(model=MODEL, messages=msgs("astream"), api_base=provider.url + "/v1", api_key="sk-test")
    first = await litellm.acompletion(**kw)
    for _ in range(50):
        if len(cache):
            break
        await asyncio.sleep(0.01)
    stream = await litellm.acompletion(**kw, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == first.choices[0].message.content and chat_calls(provider) == 1


# -- embeddings, per item --------------------------------------------------------------------------


def test_sync_embeddings_are_stored_per_item(enabled, provider):
    cache = enabled()
    kw = dict(model="openai/text-embedding-3-small", api_base=provider.url + "/v1", api_key="sk-test")
    first = litellm.embedding(input=["alpha", "beta"], **kw)
    assert len(cache) == 2  # one entry per input item
    again = litellm.embedding(input=["alpha", "beta"], **kw)
    single = litellm.embedding(input="beta", **kw)  # an item stored by a batch answers alone
    assert provider.counts["/v1/embeddings"] == 1
    assert is_hit(again) and is_hit(single)
    assert [d["embedding"] for d in again.data] == [d["embedding"] for d in first.data]
    assert single.data[0]["embedding"] == first.data[1]["embedding"]


async def test_async_embeddings_send_only_the_missing_items(enabled, provider):
    cache = enabled()
    kw = dict(model="openai/text-embedding-3-small", api_base=provider.url + "/v1", api_key="sk-test")
    first = await litellm.aembedding(input=["alpha", "beta"], **kw)
    for _ in range(50):
        if len(cache) == 2:
            break
        await asyncio.sleep(0.01)
    mixed = await litellm.aembedding(input=["beta", "gamma"], **kw)
    assert provider.counts["/v1/embeddings"] == 2
    assert provider.requests[-1][2]["input"] == ["gamma"]  # beta came from the cache
    assert mixed.data[0]["embedding"] == first.data[1]["embedding"]


# -- the canonical key: what LiteLLM's own key misses or splits ------------------------------------


def test_key_order_and_int_float_do_not_split_entries(enabled, call, provider):
    enabled()
    call([{"role": "user", "content": "order"}], temperature=1)
    swapped = call([{"content": "order", "role": "user"}], temperature=1.0)
    assert is_hit(swapped) and chat_calls(provider) == 1


def test_provider_specific_parameters_are_in_the_key(enabled, call, provider):
    # LiteLLM's own key leaves these out unless a feature flag is set (BerriAI/litellm#42400):
    # an answer generated with other provider settings would be served.
    enabled()
    call(msgs("params"), extra_body={"top_k": 5})
    other = call(msgs("params"), extra_body={"top_k": 50})
    assert not is_hit(other) and chat_calls(provider) == 2
    assert is_hit(call(msgs("params"), extra_body={"top_k": 5}))


def test_none_arguments_are_no_arguments(enabled, call, provider):
    enabled()
    call(msgs("none"))
    assert is_hit(call(msgs("none"), temperature=None))


def test_no_200_entry_cap(enabled):
    # LiteLLM's in-memory cache holds 200 entries by default; a dejacache.Cache holds what it is given.
    cache = enabled(dejacache.Cache(max_entries=100_000))
    for i in range(210):
        litellm.completion(model="gpt-4o-mini", messages=msgs(f"q{i}"), mock_response="ok")
    assert len(cache) == 210
    assert all(
        is_hit(litellm.completion(model="gpt-4o-mini", messages=msgs(f"q{i}"), mock_response="ok")) for i in range(5)
    )


def test_long_conversations_are_cached(enabled, call, provider):
    # LiteLLM skips requests of more than 4 messages by default (max_messages).
    enabled()
    long = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(9)]
    call(long)
    assert is_hit(call(long)) and chat_calls(provider) == 1


# -- semantic, stores, namespaces, savings ---------------------------------------------------------


def test_semantic_hits(enabled, call, provider):
    cache = enabled(
        dejacache.Cache(semantic=Semantic(embedder=WordEmbedder(), threshold=0.9, evaluator=evaluation.Cosine()))
    )
    first = call(msgs("What is the capital of France?"))
    similar = call(msgs("what's the capital city of France"))
    assert is_hit(similar) and chat_calls(provider) == 1
    assert similar.choices[0].message.content == first.choices[0].message.content
    assert not is_hit(call(msgs("What is the capital of Spain?")))
    assert cache.stats()["semantic_hits"] == 1


def test_a_sqlite_store_outlives_the_process_cache(enabled, call, provider, tmp_path):
    url = f"sqlite:///{tmp_path / 'llm.db'}"
    enabled(dejacache.Cache(store=url))
    first = call(msgs("persist"))
    dc_litellm.enable(dejacache.Cache(store=url))  # a new cache over the same file, as after a restart
    again = call(msgs("persist"))
    assert is_hit(again) and again.choices[0].message.content == first.choices[0].message.content


def test_namespaces_never_cross_and_savings_are_counted(enabled, call, provider):
    cache = enabled()
    a = call(msgs("tenant"), cache={"namespace": "tenant-a"})
    assert not is_hit(call(msgs("tenant"), cache={"namespace": "tenant-b"}))
    assert not is_hit(call(msgs("tenant")))
    assert is_hit(call(msgs("tenant"), metadata={"redis_namespace": "tenant-a"}))  # LiteLLM's own spelling
    stats = cache.stats()
    ns = stats["namespaces"]
    assert ns["tenant-a"]["hits"] == 1 and ns["tenant-b"]["hits"] == 0
    assert stats["tokens_saved"] == a.usage.total_tokens > 0
    assert stats["cost_saved_usd"] > 0 and stats["latency_saved_s"] > 0


# -- LiteLLM's controls ----------------------------------------------------------------------------


def test_caching_false_bypasses_and_true_uses(enabled, call, provider):
    cache = enabled()
    call(msgs("flag"), caching=False)
    assert len(cache) == 0
    call(msgs("flag"), caching=True)
    assert is_hit(call(msgs("flag"), caching=True))
    assert not is_hit(call(msgs("flag"), caching=False)) and chat_calls(provider) == 3


def test_no_cache_refreshes_and_no_store_reads_only(enabled, call, provider):
    enabled()
    call(msgs("ctl"))
    fresh = call(msgs("ctl"), cache={"no-cache": True})
    assert not is_hit(fresh) and chat_calls(provider) == 2
    assert call(msgs("ctl")).choices[0].message.content == fresh.choices[0].message.content  # the refresh was stored
    call(msgs("ctl2"), cache={"no-store": True})
    assert not is_hit(call(msgs("ctl2"), cache={"no-store": True}))


def test_ttl_and_s_maxage(enabled, call, provider, clock):
    enabled(dejacache.Cache(clock=clock))
    call(msgs("ttl"), cache={"ttl": 10})
    clock.advance(5)
    assert is_hit(call(msgs("ttl"), cache={"s-maxage": 10}))
    assert is_hit(call(msgs("ttl"), cache={"s-max-age": 10}))  # LiteLLM's other spelling
    assert not is_hit(call(msgs("ttl"), cache={"s-maxage": 1, "no-store": True}))
    clock.advance(20)  # past the entry's own ttl
    assert not is_hit(call(msgs("ttl"), cache={"no-store": True}))


def test_opt_in_cache_answers_only_calls_that_ask(enabled, call, provider):
    enabled(dejacache.Cache(opt_in=True))
    call(msgs("opt"))
    assert not is_hit(call(msgs("opt")))
    call(msgs("opt"), cache={"use-cache": True})
    assert is_hit(call(msgs("opt"), cache={"use-cache": True}))


def test_a_bad_control_is_a_clear_error(enabled, call):
    enabled()
    with pytest.raises(ValueError, match="unknown cache control"):
        call(msgs("bad"), cache={"no-cahce": True})


def test_disable_restores_the_previous_cache(provider):
    own = litellm.Cache()
    litellm.cache = own
    try:
        dc_litellm.enable(dejacache.Cache())
        assert litellm.cache is not own
        dc_litellm.disable()
        assert litellm.cache is own
    finally:
        litellm.disable_cache()


def test_ollama_num_ctx_is_in_the_key(enabled):
    # BerriAI/litellm#42400, offline: the same mocked call under two context windows.
    enabled()
    kw = dict(model="ollama/llama3.2", messages=msgs("hello"), mock_response="same text", num_retries=0)
    litellm.completion(num_ctx=2048, **kw)
    assert not is_hit(litellm.completion(num_ctx=8192, **kw))
    assert is_hit(litellm.completion(num_ctx=2048, **kw))


def test_text_completions_are_cached(enabled, provider):
    enabled()
    kw = dict(model="openai/gpt-3.5-turbo-instruct", prompt="Say hi", api_base=provider.url + "/v1", api_key="sk-test")
    first = litellm.text_completion(**kw)
    again = litellm.text_completion(**kw)
    assert provider.counts["/v1/completions"] == 1
    assert again.choices[0].text == first.choices[0].text


async def test_a_request_that_cannot_be_keyed_still_reaches_the_provider(enabled):
    # A ModelResponse as mock_response is no JSON: the cache steps aside (fail-open), sync and async.
    cache = enabled()
    canned = litellm.ModelResponse(choices=[{"message": {"role": "assistant", "content": "canned"}}])
    kw = dict(model="gpt-4o-mini", messages=msgs("unkeyable"), mock_response=canned)
    assert litellm.completion(**kw).choices[0].message.content == "canned"
    assert (await litellm.acompletion(**kw)).choices[0].message.content == "canned"
    assert len(cache) == 0


async def test_async_streamed_miss_is_stored(enabled, provider):
    cache = enabled()
    kw = dict(model=MODEL, messages=msgs("astream miss"), api_base=provider.url + "/v1", api_key="sk-test")
    text = "".join([c.choices[0].delta.content or "" async for c in await litellm.acompletion(**kw, stream=True)])
    for _ in range(100):
        if len(cache):
            break
        await asyncio.sleep(0.01)
    again = await litellm.acompletion(**kw)
    assert is_hit(again) and again.choices[0].message.content == text and chat_calls(provider) == 1
