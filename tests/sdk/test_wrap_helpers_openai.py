"""OpenAI ``chat.completions.stream()`` and ``chat.completions.parse()`` through a wrapped client:
the SDK's own ChatCompletionStream and ParsedChatCompletion, made from replayed or cached answers."""

from __future__ import annotations

import json
import warnings

import pytest

openai = pytest.importorskip("openai")

import dejacache  # noqa: E402
import pydantic  # noqa: E402
from dejacache._sdk import helpers as _helpers  # noqa: E402
from dejacache._sdk.openai import helpers as _openai  # noqa: E402
from openai.lib.streaming.chat import AsyncChatCompletionStream, ChatCompletionStream  # noqa: E402
from openai.types.chat import ParsedChatCompletion  # noqa: E402

MSGS = [{"role": "user", "content": "tell me about streams"}]
PATH = "/v1/chat/completions"
ANSWER = "answer #1 to tell me about streams"


class Answer(pydantic.BaseModel):
    text: str
    serial: int


class Lookup(pydantic.BaseModel):
    q: str
    n: int


STRICT_TOOLS = [openai.pydantic_function_tool(Lookup, name="lookup")]
LOOSE_TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def oai(provider, cache, **opts):
    return dejacache.wrap(openai.OpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache, **opts)


def aoai(provider, cache, **opts):
    return dejacache.wrap(openai.AsyncOpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache, **opts)


def ask(**extra):
    return {"model": "gpt-4o", "messages": MSGS, **extra}


def deltas(events) -> str:
    return "".join(e.delta for e in events if e.type == "content.delta")


# -- chat.completions.stream() --------------------------------------------------------------


def test_stream_miss_is_live_and_hit_is_the_sdk_chat_completion_stream(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache, replay_chunk_chars=5)
    with c.chat.completions.stream(**ask(model="stream-gated")) as live:
        assert isinstance(live, ChatCompletionStream)
        first = next(iter(live))  # the server holds the rest back until the gate opens
        assert first.type == "chunk" and provider.streams_finished == 0 and len(cache) == 0
        provider.gate.set()
        rest = list(live)
        final_live = live.get_final_completion()
    assert deltas(rest) == "answer #1 to tell me about streams"
    assert getattr(final_live, "cache", False) is False and len(cache) == 1
    assert provider.requests[0][1]["x-stainless-helper-method"] == "chat.completions.stream"

    with c.chat.completions.stream(**ask(model="stream-gated")) as hit:
        assert isinstance(hit, ChatCompletionStream)
        events = list(hit)
        final = hit.get_final_completion()
    pieces = [e.delta for e in events if e.type == "content.delta"]
    assert "".join(pieces) == ANSWER and max(map(len, pieces)) == 5
    assert [e.type for e in events][-1] == "content.done" and events[-1].content == ANSWER
    assert all(e.chunk.cache is True for e in events if e.type == "chunk")
    assert type(final_live) is type(final) and final.cache is True
    assert final.choices[0].message.content == ANSWER and final.choices[0].finish_reason == "stop"
    assert provider.counts[PATH] == 1


def test_stream_parses_response_format_and_strict_tools_on_a_hit(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    with c.chat.completions.stream(**ask(response_format=Answer)) as live:
        live.until_done()
    with c.chat.completions.stream(**ask(response_format=Answer)) as hit:
        done = [e for e in hit if e.type == "content.done"]
        final = hit.get_final_completion()
    assert done[0].parsed == Answer(text=ANSWER, serial=1)
    assert final.cache is True and final.choices[0].message.parsed == Answer(text=ANSWER, serial=1)

    with c.chat.completions.stream(**ask(tools=STRICT_TOOLS)) as live:
        live.until_done()
    with c.chat.completions.stream(**ask(tools=STRICT_TOOLS)) as hit:
        args_done = [e for e in hit if e.type == "tool_calls.function.arguments.done"]
        final = hit.get_final_completion()
    assert args_done[0].parsed_arguments == Lookup(q="tell me about streams", n=2)
    call = final.choices[0].message.tool_calls[0]
    assert final.cache is True and call.function.parsed_arguments == Lookup(q="tell me about streams", n=2)
    assert provider.counts[PATH] == 2


def test_stream_usage_on_a_hit_when_asked(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    original = c.chat.completions.create(**ask())
    with c.chat.completions.stream(**ask(stream_options={"include_usage": True})) as hit:
        final = hit.get_final_completion()
    assert final.cache is True and final.usage == original.usage
    with c.chat.completions.stream(**ask()) as hit:
        chunks = [e.chunk for e in hit if e.type == "chunk"]
    assert all(ch.choices for ch in chunks)  # no usage chunk for a caller who did not ask
    assert provider.counts[PATH] == 1


def test_abandoned_and_failed_helper_streams_store_nothing(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    with c.chat.completions.stream(**ask()) as s:
        for _ in s:
            break  # the caller leaves the block halfway
    s = c.chat.completions.stream(**ask()).__enter__()
    next(s)
    s.close()
    with pytest.raises(openai.APIError):
        with c.chat.completions.stream(**ask(model="stream-error")) as s:
            s.until_done()
    with pytest.raises(openai.InternalServerError):
        with c.chat.completions.stream(**ask(model="error-500")):
            pass
    assert len(cache) == 0 and cache.stats()["stores"] == 0 and provider.counts[PATH] == 4
    with c.chat.completions.stream(**ask()) as s:
        assert getattr(s.get_final_completion(), "cache", False) is False
    assert len(cache) == 1 and provider.counts[PATH] == 5


# -- chat.completions.parse() ---------------------------------------------------------------


def test_parse_hit_is_the_sdks_parsed_completion(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    live = c.chat.completions.parse(**ask(response_format=Answer))
    hit = c.chat.completions.parse(**ask(response_format=Answer))
    assert isinstance(hit, ParsedChatCompletion) and type(hit) is type(live)
    assert getattr(live, "cache", False) is False and hit.cache is True
    assert hit.choices[0].message.parsed == live.choices[0].message.parsed == Answer(text=ANSWER, serial=1)
    assert hit.usage == live.usage and provider.counts[PATH] == 1
    assert provider.requests[0][1]["x-stainless-helper-method"] == "chat.completions.parse"

    class Other(pydantic.BaseModel):  # another schema is another request
        text: str

    assert getattr(c.chat.completions.parse(**ask(response_format=Other)), "cache", False) is False
    assert getattr(c.chat.completions.parse(**ask()), "cache", False) is False
    assert provider.counts[PATH] == 3


def test_parse_and_create_share_entries_only_for_the_same_body(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    parsed = c.chat.completions.parse(**ask(response_format=Answer))
    sent = provider.requests[0][2]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Answer"
    plain = c.chat.completions.create(**ask(response_format=sent))
    assert plain.cache is True and json.loads(plain.choices[0].message.content)["serial"] == 1
    # without the schema the same messages are another request
    assert getattr(c.chat.completions.create(**ask()), "cache", False) is False
    with c.chat.completions.stream(**ask(response_format=Answer)) as s:
        final = s.get_final_completion()
    assert final.cache is True and final.choices[0].message.parsed == parsed.choices[0].message.parsed
    assert provider.counts[PATH] == 2
    # and the other way: a streamed answer serves parse
    with c.chat.completions.stream(**ask(response_format=Answer, temperature=0.5)) as s:
        s.until_done()
    again = c.chat.completions.parse(**ask(response_format=Answer, temperature=0.5))
    assert again.cache is True and again.choices[0].message.parsed.serial == 3
    assert provider.counts[PATH] == 3


def test_parse_tools_errors_and_controls(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    with pytest.raises(ValueError, match="strict"):
        c.chat.completions.parse(**ask(tools=LOOSE_TOOLS))  # the SDK refuses non-strict tools
    with pytest.raises(TypeError):
        c.chat.completions.parse(**ask(stream=True))  # parse() has no stream argument
    assert provider.total() == 0
    c.chat.completions.parse(**ask(tools=STRICT_TOOLS))
    hit = c.chat.completions.parse(**ask(tools=STRICT_TOOLS))
    assert hit.cache is True
    assert hit.choices[0].message.tool_calls[0].function.parsed_arguments == Lookup(q="tell me about streams", n=1)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.parse(**ask(model="error-500", response_format=Answer))
    c.chat.completions.parse(**ask(response_format=Answer), caching=False)
    c.chat.completions.parse(**ask(response_format=Answer), cache={"no-store": True})
    assert len(cache) == 1 and provider.counts[PATH] == 5


def test_unexpected_sdk_internals_pass_through_uncached_with_one_warning(provider, monkeypatch):
    monkeypatch.setattr(_openai, "_chat_helper_parts", lambda: "ChatCompletionStreamManager takes something else")
    monkeypatch.setattr(_helpers, "_warned", set())
    cache = dejacache.Cache()
    c = oai(provider, cache)
    with pytest.warns(RuntimeWarning, match="parse"):
        first = c.chat.completions.parse(**ask(response_format=Answer), cache={"ttl": 5})
    with pytest.warns(RuntimeWarning, match="stream"):
        with c.chat.completions.stream(**ask()) as s:
            s.until_done()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per helper
        second = c.chat.completions.parse(**ask(response_format=Answer))
    assert first.choices[0].message.parsed.serial == 1 and second.choices[0].message.parsed.serial == 3
    assert getattr(second, "cache", False) is False and len(cache) == 0 and provider.counts[PATH] == 3


# -- async ----------------------------------------------------------------------------------


async def test_async_stream_and_parse(provider):
    cache = dejacache.Cache()
    c = aoai(provider, cache)
    async with c.chat.completions.stream(**ask(response_format=Answer)) as s:
        async for _ in s:
            break
    assert len(cache) == 0
    async with c.chat.completions.stream(**ask(response_format=Answer)) as live:
        assert isinstance(live, AsyncChatCompletionStream)
        live_final = await live.get_final_completion()
    async with c.chat.completions.stream(**ask(response_format=Answer)) as hit:
        events = [e async for e in hit]
        final = await hit.get_final_completion()
    assert final.cache is True and final.choices[0].message.parsed == live_final.choices[0].message.parsed
    assert deltas(events) == live_final.choices[0].message.content
    parsed = await c.chat.completions.parse(**ask(response_format=Answer))
    assert parsed.cache is True and parsed.choices[0].message.parsed.serial == 2
    # Non-strict tools: the wrapper does what the SDK's own async stream() does, which differs
    # between SDK versions (openai 2.x refuses at the call; 3.x accepts the call).
    unwrapped = openai.AsyncOpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0)
    try:
        unwrapped.chat.completions.stream(**ask(tools=LOOSE_TOOLS))
        sdk_refuses = False
    except ValueError:
        sdk_refuses = True
    if sdk_refuses:
        with pytest.raises(ValueError, match="strict"):
            c.chat.completions.stream(**ask(tools=LOOSE_TOOLS))
    else:
        with pytest.warns(RuntimeWarning, match="stream"):
            c.chat.completions.stream(**ask(tools=LOOSE_TOOLS))
    other = await c.chat.completions.parse(**ask(response_format=Answer, seed=7))
    assert getattr(other, "cache", False) is False
    assert (await c.chat.completions.parse(**ask(response_format=Answer, seed=7))).cache is True
    with pytest.raises(openai.InternalServerError):
        await c.chat.completions.parse(**ask(model="error-500"))
    assert provider.counts[PATH] == 4 and len(cache) == 2


def test_a_failure_building_the_request_costs_the_cache_not_the_call(provider, monkeypatch):
    def changed_sdk(response_format):
        raise AttributeError("the SDK moved something")

    monkeypatch.setattr(_openai, "_response_format_param", changed_sdk)
    monkeypatch.setattr(_helpers, "_warned", set())
    cache = dejacache.Cache()
    c = oai(provider, cache)
    with pytest.warns(RuntimeWarning, match="building its request failed"):
        r = c.chat.completions.parse(**ask(response_format=Answer), cache={"ttl": 9})
    assert r.choices[0].message.parsed == Answer(text=ANSWER, serial=1)  # the SDK's own parse()
    with pytest.warns(RuntimeWarning, match="building its request failed"):
        with c.chat.completions.stream(**ask(response_format=Answer)) as s:
            assert s.get_final_completion().choices[0].message.parsed.serial == 2
    assert len(cache) == 0 and provider.counts[PATH] == 2


def test_stream_manager_signatures_are_checked():
    class Manager:  # what a future SDK might change its manager into
        def __init__(self, api_request, *, response_format, input_tools, starting_after=None):
            pass

    assert "starting_after" in _helpers.expect_parameters(Manager, ["api_request", "response_format", "input_tools"])
    assert (
        _helpers.expect_parameters(Manager, ["api_request", "response_format", "input_tools", "starting_after"]) is None
    )
    assert not isinstance(_openai._chat_helper_parts(), str)  # the installed SDK is the expected one
