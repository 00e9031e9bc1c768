"""OpenAI ``responses.stream()`` and ``responses.parse()`` through a wrapped client: the SDK's own
ResponseStream and ParsedResponse, made from replayed or cached answers, keyed by what is sent."""

from __future__ import annotations

import asyncio
import warnings

import pytest

openai = pytest.importorskip("openai")

import dejacache  # noqa: E402
import pydantic  # noqa: E402
from dejacache._sdk import helpers as _helpers  # noqa: E402
from dejacache._sdk.openai import helpers as _openai  # noqa: E402
from openai.lib._parsing._responses import type_to_text_format_param  # noqa: E402
from openai.lib.streaming.responses import AsyncResponseStream, ResponseStream  # noqa: E402
from openai.types.responses import ParsedResponse  # noqa: E402


class Answer(pydantic.BaseModel):
    text: str
    serial: int


class Lookup(pydantic.BaseModel):
    q: str


class NotedAnswer(pydantic.BaseModel):
    text: str
    serial: int
    note: str = ""


def oai(provider, cache, is_async=False, **opts):
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return dejacache.wrap(cls(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache, **opts)


def ask(**extra):
    return {"model": "gpt-4o", "input": "tell me about responses", **extra}


def deltas(events) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def test_stream_miss_is_live_and_hit_is_the_sdks_response_stream(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache, replay_chunk_chars=4)
    with c.responses.stream(**ask(model="stream-gated")) as live:
        assert isinstance(live, ResponseStream)
        first = next(iter(live))  # the server holds the rest back until the gate opens
        assert first.type == "response.created" and len(cache) == 0
        provider.gate.set()
        live_text = deltas(list(live))
        live_final = live.get_final_response()
    assert getattr(live_final, "cache", False) is False and len(cache) == 1

    with c.responses.stream(**ask(model="stream-gated")) as hit:
        assert isinstance(hit, ResponseStream)
        events = list(hit)
        final = hit.get_final_response()
    assert provider.total() == 1
    pieces = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(pieces) == live_text == final.output_text and max(map(len, pieces)) == 4
    assert events[-1].type == "response.completed" and final.cache is True


def test_parse_hit_is_a_parsed_response_with_the_callers_type(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    miss = c.responses.parse(**ask(text_format=Answer))
    hit = c.responses.parse(**ask(text_format=Answer))
    assert provider.total() == 1
    assert isinstance(hit, ParsedResponse) and isinstance(hit.output_parsed, Answer)
    assert hit.output_parsed == miss.output_parsed and hit.cache is True
    assert getattr(miss, "cache", False) is False
    sent = provider.requests[0][2]
    assert sent["text"]["format"]["type"] == "json_schema" and sent["text"]["format"]["name"] == "Answer"


def test_parse_stream_and_create_share_the_entry_of_the_body_sent(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    parsed = c.responses.parse(**ask(text_format=Answer))
    with c.responses.stream(**ask(text_format=Answer)) as s:
        list(s)
        streamed = s.get_final_response()
    created = c.responses.create(**ask(text={"format": type_to_text_format_param(Answer)}))
    assert provider.total() == 1
    assert streamed.output_parsed == parsed.output_parsed and streamed.cache is True and created.cache is True
    c.responses.parse(**ask())  # no schema: another request, another entry
    c.responses.parse(**ask(text_format=NotedAnswer))
    assert provider.total() == 3 and len(cache) == 3


def test_pydantic_tools_are_sent_in_the_responses_shape_and_keyed(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    tools = [openai.pydantic_function_tool(Lookup, name="lookup")]
    c.responses.parse(**ask(tools=tools))
    again = c.responses.parse(**ask(tools=tools))
    assert provider.total() == 1 and again.cache is True
    sent = provider.requests[0][2]["tools"][0]
    assert sent["name"] == "lookup" and sent["type"] == "function" and "function" not in sent


def test_async_stream_and_parse(provider):
    async def run():
        c = oai(provider, dejacache.Cache(), is_async=True)
        first = await c.responses.parse(**ask(text_format=Answer))
        async with c.responses.stream(**ask(text_format=Answer)) as s:
            assert isinstance(s, AsyncResponseStream)
            events = [e async for e in s]
            final = await s.get_final_response()
        second = await c.responses.parse(**ask(text_format=Answer))
        return first, events, final, second

    first, events, final, second = asyncio.run(run())
    assert provider.total() == 1
    assert final.cache is True and second.cache is True and final.output_parsed == first.output_parsed
    assert deltas(events) == first.output_text


def test_errors_and_broken_streams_are_never_stored(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            c.responses.parse(**ask(model="error-500"))
    for _ in range(2):
        with pytest.raises(openai.APIError), c.responses.stream(**ask(model="stream-error")) as s:
            list(s)
    assert provider.total() == 4 and len(cache) == 0


def test_bad_input_is_the_sdks_error_and_resuming_a_response_passes_through(provider):
    c = oai(provider, dejacache.Cache())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="input must be provided"):
            c.responses.stream(model="gpt-4o", instructions="x")
        with pytest.raises(TypeError):
            c.responses.parse(**ask(text_format=Answer, text={"format": {"type": "text"}}))
        with pytest.raises(TypeError):
            c.responses.stream(**ask(not_an_argument=1))
        resumed = c.responses.stream(response_id="resp_1", caching=True)
        assert type(resumed).__name__ == "ResponseStreamManager"
    assert provider.total() == 0


def test_unexpected_sdk_internals_pass_through_uncached_with_one_warning(provider, monkeypatch):
    monkeypatch.setattr(_openai, "_responses_helper_parts", lambda: "ResponseStreamManager takes something else")
    monkeypatch.setattr(_helpers, "_warned", set())
    cache = dejacache.Cache()
    c = oai(provider, cache)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers = [c.responses.parse(**ask(text_format=Answer), cache={"ttl": 60}) for _ in range(2)]
    mine = [w for w in caught if "responses.parse()" in str(w.message)]
    assert len(mine) == 1 and issubclass(mine[0].category, RuntimeWarning)
    assert provider.total() == 2 and len(cache) == 0
    assert all(isinstance(a.output_parsed, Answer) for a in answers)
