"""stream=True through wrapped OpenAI and Anthropic clients: live misses, replayed hits,
abandoned and failed streams."""

from __future__ import annotations

import gc
import json

import pytest

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

import dejacache  # noqa: E402
from anthropic.types import Message  # noqa: E402
from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402

MSGS = [{"role": "user", "content": "tell me about streams"}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
CHAT = "/v1/chat/completions"


def oai(provider, cache, **opts):
    return dejacache.wrap(openai.OpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache, **opts)


def aoai(provider, cache, **opts):
    return dejacache.wrap(openai.AsyncOpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache, **opts)


def ant(provider, cache, **opts):
    return dejacache.wrap(anthropic.Anthropic(api_key="k", base_url=provider.url, max_retries=0), cache, **opts)


def aant(provider, cache, **opts):
    return dejacache.wrap(anthropic.AsyncAnthropic(api_key="k", base_url=provider.url, max_retries=0), cache, **opts)


def text_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# -- OpenAI chat ----------------------------------------------------------------------------


def test_miss_streams_chunks_as_they_arrive(provider):
    cache = dejacache.Cache()
    stream = oai(provider, cache).chat.completions.create(model="stream-gated", messages=MSGS, stream=True)
    first = next(stream)  # the server holds the rest back until the gate opens
    assert isinstance(first, ChatCompletionChunk) and provider.streams_finished == 0
    provider.gate.set()
    rest = list(stream)
    assert text_of([first, *rest]) == "answer #1 to tell me about streams"
    assert len(cache) == 1


def test_stream_hit_replays_as_sdk_chunks(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache, replay_chunk_chars=5)
    live = list(c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True))
    assert all(not c_.choices or c_.usage is None for c_ in live)  # usage chunk hidden: not asked for
    with c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True) as replay:
        assert isinstance(replay, openai.Stream) and replay.cache is True
        chunks = list(replay)
    assert provider.counts[CHAT] == 1
    assert all(type(ch) is ChatCompletionChunk and ch.cache is True for ch in chunks)
    assert text_of(chunks) == text_of(live)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is None
    assert all(len(ch.choices[0].delta.content or "") <= 5 for ch in chunks)
    assert {ch.id for ch in chunks} == {live[0].id}


def test_usage_on_the_final_replayed_chunk_when_asked(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    original = c.chat.completions.create(model="gpt-4o", messages=MSGS)
    chunks = list(
        c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True, stream_options={"include_usage": True})
    )
    assert chunks[-1].choices == [] and chunks[-1].usage == original.usage
    assert text_of(chunks) == original.choices[0].message.content
    assert provider.counts[CHAT] == 1


def test_streamed_answer_serves_a_plain_call(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    live = list(c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True))
    plain = c.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert type(plain) is ChatCompletion and plain.cache is True
    assert plain.choices[0].message.content == text_of(live)
    assert plain.choices[0].finish_reason == "stop" and plain.id == live[0].id
    assert plain.usage is not None and plain.usage.total_tokens > 0  # stream_usage asked for it upstream
    assert provider.requests[0][2]["stream_options"] == {"include_usage": True}
    assert cache.stats()["cost_saved_usd"] > 0


def test_streamed_tool_calls_assemble_and_replay(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache, replay_chunk_chars=4)
    list(c.chat.completions.create(model="gpt-4o", messages=MSGS, tools=TOOLS, stream=True))
    plain = c.chat.completions.create(model="gpt-4o", messages=MSGS, tools=TOOLS)
    call = plain.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup" and json.loads(call.function.arguments)["n"] == 1
    assert plain.choices[0].finish_reason == "tool_calls"
    replay = list(c.chat.completions.create(model="gpt-4o", messages=MSGS, tools=TOOLS, stream=True))
    args = "".join(tc.function.arguments or "" for ch in replay for tc in ch.choices[0].delta.tool_calls or [])
    assert args == call.function.arguments and provider.counts[CHAT] == 1


def test_abandoned_streams_store_nothing(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    for _ in c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True):
        break  # the caller stops reading
    # Collect the abandoned stream now: collected later, at an arbitrary allocation inside
    # httpcore's pool lock, its finalizer takes that lock again and the thread deadlocks
    # (encode/httpcore#990; an SDK/httpcore hazard for any abandoned stream, not dejacache's).
    gc.collect()
    stream = c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)
    next(stream)
    stream.close()
    with c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True) as s:
        next(s)
    stream = c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)
    next(stream)
    del stream
    gc.collect()
    assert len(cache) == 0 and cache.stats()["stores"] == 0
    assert getattr(c.chat.completions.create(model="gpt-4o", messages=MSGS), "cache", False) is False
    assert provider.counts[CHAT] == 5


@pytest.mark.parametrize("model", ["stream-error", "stream-drop"])
def test_failed_streams_raise_and_store_nothing(provider, model):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    got = []
    with pytest.raises((openai.APIError, openai.APIConnectionError)) if model == "stream-error" else _maybe_raises():
        for chunk in c.chat.completions.create(model=model, messages=MSGS, stream=True):
            got.append(chunk)
    assert len(got) == 2 and len(cache) == 0


class _maybe_raises:
    """A dropped connection may end the SDK's stream with an error or quietly: either way
    the answer is incomplete and must not be stored."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is None or issubclass(exc_type, Exception)


async def test_async_stream_miss_then_replay(provider):
    cache = dejacache.Cache()
    c = aoai(provider, cache)
    live = [ch async for ch in await c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)]
    async with await c.chat.completions.create(
        model="gpt-4o", messages=MSGS, stream=True, stream_options={"include_usage": True}
    ) as replay:
        assert isinstance(replay, openai.AsyncStream)
        chunks = [ch async for ch in replay]
    assert text_of(chunks) == text_of(live) and chunks[-1].usage is not None
    plain = await c.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert plain.cache is True and provider.counts[CHAT] == 1


async def test_async_abandoned_and_failed_streams_store_nothing(provider):
    cache = dejacache.Cache()
    c = aoai(provider, cache)
    stream = await c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)
    async for _ in stream:
        break
    await stream.close()
    with pytest.raises(openai.APIError):
        async for _ in await c.chat.completions.create(model="stream-error", messages=MSGS, stream=True):
            pass
    assert len(cache) == 0


def test_completions_and_responses_streams(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    live = "".join(
        ch.choices[0].text for ch in c.completions.create(model="m", prompt="p q", stream=True) if ch.choices
    )
    again = "".join(
        ch.choices[0].text for ch in c.completions.create(model="m", prompt="p q", stream=True) if ch.choices
    )
    assert again == live and c.completions.create(model="m", prompt="p q").choices[0].text == live
    events = list(c.responses.create(model="gpt-4o", input="stream me", stream=True))
    plain = c.responses.create(model="gpt-4o", input="stream me")
    assert plain.cache is True and plain.output_text == "answer #2 to stream me"
    replay = list(c.responses.create(model="gpt-4o", input="stream me", stream=True))
    assert _squash([e.type for e in replay]) == _squash([e.type for e in events])
    assert all(e.cache is True for e in replay)
    assert "".join(e.delta for e in replay if e.type == "response.output_text.delta") == plain.output_text
    assert replay[-1].type == "response.completed" and replay[-1].response.output_text == plain.output_text
    assert [e.sequence_number for e in replay] == list(range(len(replay)))
    assert provider.counts == {"/v1/completions": 1, "/v1/responses": 1}


# -- Anthropic ------------------------------------------------------------------------------

EVENT_ORDER = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
]


def _squash(types):
    out = []
    for t in types:
        if not out or out[-1] != t:
            out.append(t)
    return out


def test_anthropic_messages_hit_and_stream_replay(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    first = c.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=MSGS)
    second = c.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=MSGS)
    assert type(second) is Message and second.cache is True and second.content[0].text == first.content[0].text
    assert second.usage == first.usage
    with c.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=MSGS, stream=True) as s:
        assert isinstance(s, anthropic.Stream)
        events = list(s)
    assert _squash([e.type for e in events]) == EVENT_ORDER
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == first.content[0].text
    assert events[-2].usage.output_tokens == first.usage.output_tokens
    assert events[0].message.usage.input_tokens == first.usage.input_tokens
    assert provider.counts["/v1/messages"] == 1
    assert cache.stats()["cost_saved_usd"] > 0


def test_anthropic_streamed_answer_with_tool_use_serves_a_plain_call(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    live = list(c.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=MSGS, tools=tools, stream=True))
    assert [e.type for e in live].count("message_stop") == 1
    plain = c.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=MSGS, tools=tools)
    assert plain.cache is True and plain.stop_reason == "tool_use"
    assert plain.content[0].text == "answer #1 to tell me about streams"
    assert plain.content[1].type == "tool_use" and plain.content[1].input == {"q": "tell me about streams", "n": 1}
    assert plain.usage.output_tokens > 0 and plain.usage.input_tokens > 0
    replay = list(c.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=MSGS, tools=tools, stream=True))
    js = "".join(
        e.delta.partial_json for e in replay if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    assert json.loads(js) == plain.content[1].input and provider.counts["/v1/messages"] == 1


def test_anthropic_errors_and_failed_streams_are_not_cached(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    for _ in range(2):
        with pytest.raises(anthropic.InternalServerError):
            c.messages.create(model="error-500", max_tokens=10, messages=MSGS)
    with pytest.raises(anthropic.APIError):
        for _ in c.messages.create(model="stream-error", max_tokens=10, messages=MSGS, stream=True):
            pass
    with _maybe_raises():
        for _ in c.messages.create(model="stream-drop", max_tokens=10, messages=MSGS, stream=True):
            pass
    for _ in c.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=MSGS, stream=True):
        break
    gc.collect()  # now, outside any pool lock (see test_abandoned_streams_store_nothing)
    assert len(cache) == 0 and provider.counts["/v1/messages"] == 5


async def test_anthropic_async(provider):
    cache = dejacache.Cache()
    c = aant(provider, cache)
    live = [
        e async for e in await c.messages.create(model="claude-sonnet-4-6", max_tokens=9, messages=MSGS, stream=True)
    ]
    async with await c.messages.create(model="claude-sonnet-4-6", max_tokens=9, messages=MSGS, stream=True) as replay:
        assert isinstance(replay, anthropic.AsyncStream)
        events = [e async for e in replay]
    assert _squash([e.type for e in events]) == EVENT_ORDER
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == "".join(e.delta.text for e in live if e.type == "content_block_delta")
    plain = await c.messages.create(model="claude-sonnet-4-6", max_tokens=9, messages=MSGS)
    assert plain.cache is True and plain.content[0].text == text
    assert provider.counts["/v1/messages"] == 1


def test_anthropic_cache_control_markers_reach_anthropic_and_key_the_entry(provider):
    cache = dejacache.Cache()
    c = ant(provider, cache)
    system = [{"type": "text", "text": "long shared context", "cache_control": {"type": "ephemeral"}}]
    c.messages.create(model="claude-sonnet-4-6", max_tokens=9, system=system, messages=MSGS)
    assert provider.requests[0][2]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert c.messages.create(model="claude-sonnet-4-6", max_tokens=9, system=system, messages=MSGS).cache is True
    plain_system = [{"type": "text", "text": "long shared context"}]
    other = c.messages.create(model="claude-sonnet-4-6", max_tokens=9, system=plain_system, messages=MSGS)
    assert getattr(other, "cache", False) is False and provider.counts["/v1/messages"] == 2
