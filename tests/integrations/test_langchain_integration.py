"""dejacache as LangChain's cache (dejacache.integrations.langchain.DejacacheCache): LangChain's
fake models, and ChatOpenAI / ChatAnthropic against the fake provider on 127.0.0.1."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core")

import dejacache  # noqa: E402
from dejacache import Semantic, evaluation  # noqa: E402
from dejacache.integrations.langchain import DejacacheCache  # noqa: E402
from fake_provider import provider_fixture  # noqa: E402,F401
from langchain_core.globals import set_llm_cache  # noqa: E402
from langchain_core.language_models.fake import FakeListLLM  # noqa: E402
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, Generation  # noqa: E402
from semantic_helpers import WordEmbedder  # noqa: E402


@pytest.fixture(autouse=True)
def no_global_cache():
    yield
    set_llm_cache(None)


def semantic_cache(**kw):
    return dejacache.Cache(
        semantic=Semantic(embedder=WordEmbedder(), threshold=0.9, evaluator=evaluation.Cosine()), **kw
    )


# -- LangChain's fake models -----------------------------------------------------------------------


def test_set_llm_cache_in_one_line():
    cache = dejacache.Cache()
    set_llm_cache(DejacacheCache(cache))
    model = FakeListChatModel(responses=["first", "second"])
    assert model.invoke("hi").content == "first"
    assert model.invoke("hi").content == "first"  # from the cache: the fake would say "second"
    assert model.invoke("something else").content == "second"
    stats = cache.stats()
    assert (stats["hits"], stats["stores"]) == (1, 2)


def test_text_models_are_cached_too():
    set_llm_cache(DejacacheCache(dejacache.Cache()))
    llm = FakeListLLM(responses=["one", "two"])
    assert llm.invoke("prompt") == "one"
    assert llm.invoke("prompt") == "one"


def test_message_types_and_metadata_round_trip():
    cache = DejacacheCache(dejacache.Cache())
    ai = AIMessage(
        content="the answer",
        additional_kwargs={"refusal": None, "extra": [1, 2]},
        response_metadata={"model_name": "gpt-4o-mini", "finish_reason": "stop"},
        usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "call_1", "type": "tool_call"}],
        id="run-1",
    )
    stored = [ChatGeneration(message=ai, generation_info={"finish_reason": "stop", "logprobs": None})]
    cache.update("prompt", "llm", stored)
    got = cache.lookup("prompt", "llm")
    assert got == stored
    assert type(got[0].message) is AIMessage and got[0].message.tool_calls == ai.tool_calls
    text = [Generation(text="plain", generation_info={"n": 1})]
    cache.update("prompt2", "llm", text)
    assert cache.lookup("prompt2", "llm") == text
    assert cache.lookup("prompt", "another llm") is None


def test_a_hit_through_a_chat_model_keeps_its_metadata():
    set_llm_cache(DejacacheCache(dejacache.Cache()))
    reply = AIMessage(content="hello", response_metadata={"model_name": "fake"}, additional_kwargs={"k": "v"})
    model = GenericFakeChatModel(messages=iter([reply]))
    first = model.invoke([SystemMessage("be brief"), HumanMessage("hi")])
    again = model.invoke([SystemMessage("be brief"), HumanMessage("hi")])  # the iterator is spent: only a hit answers
    assert isinstance(again, AIMessage)
    assert (again.content, again.additional_kwargs, again.response_metadata) == (
        first.content,
        first.additional_kwargs,
        first.response_metadata,
    )


def test_every_turn_and_message_type_is_in_the_key():
    set_llm_cache(DejacacheCache(dejacache.Cache()))
    model = FakeListChatModel(responses=["a", "b", "c"])
    model.invoke([HumanMessage("q")])
    assert model.invoke([SystemMessage("q")]).content == "b"
    assert model.invoke([HumanMessage("q"), AIMessage("x"), ToolMessage("r", tool_call_id="t1")]).content == "c"
    assert model.invoke([HumanMessage("q")]).content == "a"


async def test_async_lookup_and_update():
    cache = dejacache.Cache()
    set_llm_cache(DejacacheCache(cache))
    model = FakeListChatModel(responses=["first", "second"])
    assert (await model.ainvoke("hi")).content == "first"
    assert (await model.ainvoke("hi")).content == "first"
    assert cache.stats()["hits"] == 1


def test_semantic_hits_are_scoped_by_llm_string():
    cache = semantic_cache()
    set_llm_cache(DejacacheCache(cache))
    model = FakeListChatModel(responses=["Paris", "wrong"])
    assert model.invoke("What is the capital of France?").content == "Paris"
    assert model.invoke("what's the capital city of France").content == "Paris"
    assert cache.stats()["semantic_hits"] == 1
    other = FakeListChatModel(responses=["from another model"], sleep=0.0)  # another llm_string
    assert other.invoke("what's the capital city of France").content == "from another model"


def test_any_store_and_namespaces(tmp_path):
    url = f"sqlite:///{tmp_path / 'lc.db'}"
    model = FakeListChatModel(responses=["stored", "fresh", "fresh2"])
    model.cache = DejacacheCache(dejacache.Cache(store=url), namespace="tenant-a")
    assert model.invoke("q").content == "stored"
    model.cache = DejacacheCache(dejacache.Cache(store=url), namespace="tenant-a")  # after a restart
    assert model.invoke("q").content == "stored"
    model.cache = DejacacheCache(dejacache.Cache(store=url), namespace="tenant-b")
    assert model.invoke("q").content == "fresh"  # tenants never share
    model.cache.clear()  # only tenant-b
    model.cache = DejacacheCache(dejacache.Cache(store=url), namespace="tenant-a")
    assert model.invoke("q").content == "stored"


async def test_aclear_clears():
    cache = dejacache.Cache()
    lc = DejacacheCache(cache)
    lc.update("p", "l", [Generation(text="x")])
    await lc.aclear()
    assert len(cache) == 0 and lc.lookup("p", "l") is None


def test_not_a_cache_is_refused():
    with pytest.raises(TypeError, match="dejacache.Cache"):
        DejacacheCache({})


# -- real LangChain chat models against the fake provider ------------------------------------------


def test_chat_openai(provider):
    openai_lc = pytest.importorskip("langchain_openai")
    cache = dejacache.Cache()

    def chat_openai(**params):
        return openai_lc.ChatOpenAI(
            model="gpt-4o-mini",
            base_url=provider.url + "/v1",
            api_key="sk-test",
            max_retries=0,
            cache=DejacacheCache(cache),
            **params,
        )

    model = chat_openai()
    first = model.invoke("Tell me a joke")
    again = model.invoke("Tell me a joke")
    assert provider.counts["/v1/chat/completions"] == 1
    assert again.content == first.content and again.response_metadata == first.response_metadata
    assert again.usage_metadata["total_tokens"] == first.usage_metadata["total_tokens"]
    assert again.usage_metadata["total_cost"] == 0  # LangChain's own mark of a cached answer
    stats = cache.stats()
    assert stats["tokens_saved"] == first.usage_metadata["total_tokens"] > 0
    assert stats["cost_saved_usd"] > 0 and stats["latency_saved_s"] > 0
    chat_openai(temperature=0.5).invoke("Tell me a joke")  # another llm_string
    assert provider.counts["/v1/chat/completions"] == 2


def test_chat_anthropic(provider):
    anthropic_lc = pytest.importorskip("langchain_anthropic")
    model = anthropic_lc.ChatAnthropic(
        model="claude-sonnet-4-5",
        base_url=provider.url,
        api_key="sk-test",
        max_retries=0,
        cache=DejacacheCache(dejacache.Cache()),
    )
    first = model.invoke([SystemMessage("be brief"), HumanMessage("Tell me a joke")])
    again = model.invoke([SystemMessage("be brief"), HumanMessage("Tell me a joke")])
    assert provider.counts["/v1/messages"] == 1
    assert again.content == first.content and again.response_metadata == first.response_metadata
