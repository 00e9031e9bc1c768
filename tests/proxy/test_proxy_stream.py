"""Slice 2: streamed chat completions through the proxy: pass-through, storage, replay."""

from __future__ import annotations

import time
import uuid

import httpx
import openai
import pytest

from .proxy_helpers import oai


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def collect(stream) -> tuple[str, list]:
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


def test_stream_miss_is_stored_and_replays_as_sse(proxy, upstream):
    client = oai(proxy)
    text = unique("stream me")
    before = upstream.total()
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=ask(text), stream=True)
    assert raw.headers["x-dejacache"] == "miss" and raw.headers["content-type"].startswith("text/event-stream")
    live, live_chunks = collect(raw.parse())
    assert live.endswith(text)
    # the proxy asked upstream for usage (to price the entry); the client did not, so it sees none
    assert upstream.requests[-1][2]["stream_options"] == {"include_usage": True}
    assert all(c.choices for c in live_chunks)
    # a plain call is served by the stored stream
    plain = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=ask(text))
    assert plain.headers["x-dejacache"] == "exact" and plain.parse().choices[0].message.content == live
    assert float(plain.headers["x-dejacache-saved-usd"]) > 0  # the stored answer knew its usage
    # a streamed call replays it as SSE chunks, with usage when asked
    again = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=ask(text), stream=True, stream_options={"include_usage": True}
    )
    assert again.headers["x-dejacache"] == "exact"
    replayed, chunks = collect(again.parse())
    assert replayed == live and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert upstream.total() - before == 1


def test_stream_hit_of_a_plain_answer_ends_with_done(proxy):
    client = oai(proxy)
    text = unique("plain first")
    answer = client.chat.completions.create(model="gpt-4o", messages=ask(text)).choices[0].message.content
    with httpx.stream(
        "POST",
        proxy.url + "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": ask(text), "stream": True},
    ) as r:
        body = r.read().decode()
    assert r.headers["x-dejacache"] == "exact"
    events = [e for e in body.split("\n\n") if e]
    assert events[-1] == "data: [DONE]" and all(e.startswith("data: ") for e in events)
    text_back, _ = collect(oai(proxy).chat.completions.create(model="gpt-4o", messages=ask(text), stream=True))
    assert text_back == answer


def test_stream_tool_calls_assemble(proxy):
    client = oai(proxy)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    text = unique("tool")
    list(client.chat.completions.create(model="gpt-4o", messages=ask(text), tools=tools, stream=True))
    hit = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask(text), tools=tools)
    assert hit.headers["x-dejacache"] == "exact"
    call = hit.parse().choices[0].message.tool_calls[0]
    assert call.function.name == "lookup" and text in call.function.arguments


@pytest.mark.parametrize("model", ["stream-error", "stream-drop"])
def test_failed_streams_store_nothing(proxy, upstream, model):
    client = oai(proxy)
    text = unique(model)
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for _ in client.chat.completions.create(model=model, messages=ask(text), stream=True):
            pass
    before = upstream.total()
    r = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask(text))
    assert r.headers["x-dejacache"] == "miss" and upstream.total() == before + 1


def test_client_disconnect_mid_stream_stores_nothing(proxy, upstream):
    upstream.gate.clear()
    text = unique("leave early")
    with httpx.Client(timeout=10) as http:
        with http.stream(
            "POST",
            proxy.url + "/v1/chat/completions",
            json={"model": "stream-gated", "messages": ask(text), "stream": True},
        ) as r:
            first = next(r.iter_raw())
            assert first.startswith(b"data: ")
        # the response is closed: the client has gone
    time.sleep(0.2)
    upstream.gate.set()  # the provider would now finish the stream, if the proxy still read it
    time.sleep(0.5)
    r = httpx.post(proxy.url + "/v1/chat/completions", json={"model": "stream-gated", "messages": ask(text)})
    assert r.status_code == 200 and r.headers["x-dejacache"] == "miss"


def test_completed_gated_stream_is_stored(proxy, upstream):
    upstream.gate.set()
    text = unique("gated ok")
    list(oai(proxy).chat.completions.create(model="stream-gated", messages=ask(text), stream=True))
    r = httpx.post(proxy.url + "/v1/chat/completions", json={"model": "stream-gated", "messages": ask(text)})
    assert r.headers["x-dejacache"] == "exact"


def test_streamed_upstream_error_passes_through(proxy):
    with pytest.raises(openai.RateLimitError) as info:
        list(oai(proxy).chat.completions.create(model="error-429", messages=ask("x"), stream=True))
    assert info.value.body["message"] == "fake error 429"
