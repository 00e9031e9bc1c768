"""Anthropic ``messages.stream()`` through a wrapped client: the SDK's own MessageStream, live on
a miss, replayed on a hit, sharing entries with ``messages.create``."""

from __future__ import annotations

import json
import warnings

import pytest

anthropic = pytest.importorskip("anthropic")

import dejacache  # noqa: E402
import pydantic  # noqa: E402
from anthropic.lib.streaming import AsyncMessageStream, MessageStream  # noqa: E402
from anthropic.types import ParsedMessage  # noqa: E402
from dejacache._sdk import helpers as _helpers  # noqa: E402
from dejacache._sdk.anthropic import messages as _anthropic  # noqa: E402

MSGS = [{"role": "user", "content": "tell me about streams"}]
TOOLS = [{"name": "lookup", "input_schema": {"type": "object"}}]
PATH = "/v1/messages"
ANSWER = "answer #1 to tell me about streams"


class Answer(pydantic.BaseModel):
    text: str
    serial: int


def ant(provider, cache, **opts):
    return dejacache.wrap(anthropic.Anthropic(api_key="k", base_url=provider.url, max_retries=0), cache, **opts)


def aant(provider, cache, **opts):
    return dejacache.wrap(anthropic.AsyncAnthropic(api_key="k", base_url=provider.url, max_retries=0), cache, **opts)


def ask(**extra):
    return {"model": "claude-sonnet-4-6", "max_tokens": 50, "messages": MSGS, **extra}


def test_miss_is_live_and_stored_hit_is_the_sdk_message_stream(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache, replay_chunk_chars=6)
    with c.messages.stream(**ask(model="stream-gated")) as live:
        assert isinstance(live, MessageStream)
        first = next(iter(live))  # the server holds the rest back until the gate opens
        assert first.type == "message_start" and provider.streams_finished == 0 and len(cache) == 0
        provider.gate.set()
        assert live.get_final_text() == "answer #1 to tell me about streams"
        assert getattr(live.get_final_message(), "cache", False) is False
    assert len(cache) == 1
    assert provider.requests[0][1]["x-stainless-helper-method"] == "stream"  # as the SDK's stream() sends

    with c.messages.stream(**ask(model="stream-gated")) as hit:
        assert isinstance(hit, MessageStream)
        pieces = list(hit.text_stream)
        final = hit.get_final_message()
    assert "".join(pieces) == ANSWER and all(len(p) <= 6 for p in pieces) and len(pieces) > 1
    assert type(final) is ParsedMessage and final.cache is True and final.content[0].text == ANSWER
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    assert provider.counts[PATH] == 1


def test_hit_iteration_gives_the_sdks_derived_events(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    with c.messages.stream(**ask(tools=TOOLS)) as live:
        live_types = [e.type for e in live]
    with c.messages.stream(**ask(tools=TOOLS)) as hit:
        events = list(hit)
        final = hit.get_final_message()
        hit.until_done()  # already consumed: returns at once
    types = [e.type for e in events]
    assert {"text", "input_json", "message_stop"} <= set(types) and "ping" not in types
    assert set(types) == set(live_types) - {"ping"}
    texts = [e for e in events if e.type == "text"]
    assert texts[-1].snapshot == ANSWER
    assert [e for e in events if e.type == "input_json"][-1].snapshot == {"q": "tell me about streams", "n": 1}
    assert events[-1].type == "message_stop" and events[-1].message.cache is True
    assert final.content[1].type == "tool_use" and final.content[1].input == {"q": "tell me about streams", "n": 1}
    assert final.stop_reason == "tool_use" and provider.counts[PATH] == 1


def test_stream_and_create_share_entries(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    with c.messages.stream(**ask()) as s:
        text = s.get_final_text()
    plain = c.messages.create(**ask())
    assert plain.cache is True and plain.content[0].text == text
    streamed = list(c.messages.create(**ask(), stream=True))
    assert "".join(e.delta.text for e in streamed if e.type == "content_block_delta") == text

    other = ask(messages=[{"role": "user", "content": "something else"}])
    first = c.messages.create(**other)
    with c.messages.stream(**other) as s:
        assert s.get_final_message().cache is True and s.get_final_text() == first.content[0].text
    assert provider.counts[PATH] == 2


def test_output_format_is_parsed_on_a_hit_and_keyed_by_the_schema_sent(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    with c.messages.stream(**ask(output_format=Answer)) as s:
        live = s.get_final_message()
    sent = provider.requests[0][2]["output_config"]
    assert sent["format"]["type"] == "json_schema" and "text" in sent["format"]["schema"]["properties"]
    assert live.content[0].parsed_output == Answer(text=ANSWER, serial=1)
    with c.messages.stream(**ask(output_format=Answer)) as s:
        hit = s.get_final_message()
    assert hit.cache is True and isinstance(hit.content[0].parsed_output, Answer)
    assert hit.content[0].parsed_output == live.content[0].parsed_output
    assert provider.counts[PATH] == 1
    # the same body sent through create shares the entry; no output format is another request
    assert c.messages.create(**ask(output_config=sent)).cache is True
    with c.messages.stream(**ask()) as s:
        assert getattr(s.get_final_message(), "cache", False) is False
    assert provider.counts[PATH] == 2
    with pytest.raises(TypeError, match="must be a type"):
        c.messages.stream(**ask(output_format={"type": "object"}))


def test_abandoned_and_failed_helper_streams_store_nothing(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    with c.messages.stream(**ask()) as s:
        for _ in s.text_stream:
            break  # the caller leaves the block halfway
    with c.messages.stream(**ask()) as s:
        next(iter(s))
        s.close()
    with pytest.raises(anthropic.APIError):
        with c.messages.stream(**ask(model="stream-error")) as s:
            s.until_done()
    with pytest.raises(anthropic.InternalServerError):
        with c.messages.stream(**ask(model="error-500")):
            pass
    assert len(cache) == 0 and cache.stats()["stores"] == 0
    assert provider.counts[PATH] == 4
    with c.messages.stream(**ask()) as s:
        assert getattr(s.get_final_message(), "cache", False) is False
    assert len(cache) == 1 and provider.counts[PATH] == 5


def test_controls_and_bad_arguments(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    with pytest.raises(TypeError):
        c.messages.stream(**ask(temprature=0.5))  # misspelt: the SDK's own error, nothing sent
    assert provider.total() == 0
    with c.messages.stream(**ask(), cache={"no-store": True}) as s:
        s.until_done()
    with c.messages.stream(**ask(), caching=False) as s:
        s.until_done()
    assert len(cache) == 0
    with c.messages.stream(**ask(), cache={"namespace": "team-a"}) as s:
        s.until_done()
    with c.messages.stream(**ask(), cache={"namespace": "team-a"}) as s:
        assert s.get_final_message().cache is True
    with c.messages.stream(**ask()) as s:
        assert getattr(s.get_final_message(), "cache", False) is False
    assert provider.counts[PATH] == 4


def test_unexpected_sdk_internals_pass_through_uncached_with_one_warning(provider, monkeypatch):
    monkeypatch.setattr(_anthropic, "_helper_parts", lambda: "MessageStreamManager takes something else")
    monkeypatch.setattr(_helpers, "_warned", set())
    cache = dejacache.Cache()
    c = ant(provider, cache)
    with pytest.warns(RuntimeWarning, match="messages.stream"):
        with c.messages.stream(**ask(), cache={"ttl": 60}) as s:
            assert s.get_final_text() == ANSWER
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second call does not warn again
        with c.messages.stream(**ask()) as s:
            assert getattr(s.get_final_message(), "cache", False) is False
    assert provider.counts[PATH] == 2 and len(cache) == 0


async def test_async_stream_miss_hit_and_abandon(provider):
    cache = dejacache.Cache()
    c = aant(provider, cache, replay_chunk_chars=5)
    async with c.messages.stream(**ask(tools=TOOLS)) as s:
        async for _ in s.text_stream:
            break
    assert len(cache) == 0
    async with c.messages.stream(**ask(tools=TOOLS)) as live:
        assert isinstance(live, AsyncMessageStream)
        live_text = await live.get_final_text()
    async with c.messages.stream(**ask(tools=TOOLS)) as hit:
        pieces = [p async for p in hit.text_stream]
        final = await hit.get_final_message()
    assert "".join(pieces) == live_text and len(pieces) > 1
    assert final.cache is True and final.content[1].input["n"] == 2  # the second call's answer was kept
    async with c.messages.stream(**ask(tools=TOOLS)) as hit:
        types = [e.type async for e in hit]
    assert "input_json" in types and "text" in types
    plain = await c.messages.create(**ask(tools=TOOLS))
    assert plain.cache is True and json.dumps(plain.content[1].input) == json.dumps(final.content[1].input)
    with pytest.raises(anthropic.APIError):
        async with c.messages.stream(**ask(model="stream-error")) as s:
            await s.until_done()
    assert provider.counts[PATH] == 3 and len(cache) == 1


# -- messages.parse() -----------------------------------------------------------------------


def test_parse_hit_is_parsed_with_the_callers_type_and_shares_entries_with_stream(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    live = c.messages.parse(**ask(output_format=Answer))
    hit = c.messages.parse(**ask(output_format=Answer))
    assert type(hit) is type(live) and isinstance(hit, ParsedMessage)
    assert getattr(live, "cache", False) is False and hit.cache is True
    assert hit.content[0].parsed_output == live.content[0].parsed_output == Answer(text=ANSWER, serial=1)
    assert provider.requests[0][1]["x-stainless-helper"] == "messages.parse"
    with c.messages.stream(**ask(output_format=Answer)) as s:  # the same body, streamed
        assert s.get_final_message().content[0].parsed_output == Answer(text=ANSWER, serial=1)
    assert provider.counts[PATH] == 1
    assert getattr(c.messages.parse(**ask()), "cache", False) is False  # no schema: another body
    for _ in range(2):
        with pytest.raises(anthropic.InternalServerError):
            c.messages.parse(**ask(model="error-500", output_format=Answer))
    with pytest.raises(TypeError):
        c.messages.parse(**ask(output_format=Answer, stream=True))  # parse() has no stream argument
    assert provider.counts[PATH] == 4 and len(cache) == 2


async def test_async_parse(provider):
    cache = dejacache.Cache()
    c = aant(provider, cache)
    live = await c.messages.parse(**ask(output_format=Answer))
    hit = await c.messages.parse(**ask(output_format=Answer))
    assert hit.cache is True and hit.content[0].parsed_output == live.content[0].parsed_output
    assert isinstance(hit.content[0].parsed_output, Answer) and provider.counts[PATH] == 1
    uncached = await c.messages.parse(**ask(output_format=Answer), caching=False)
    assert getattr(uncached, "cache", False) is False and uncached.content[0].parsed_output.serial == 2
