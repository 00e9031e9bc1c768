"""Slice 4: the other routes: completions, responses, embeddings, Anthropic messages, models,
model info, health, metrics, OpenAPI."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fake_provider import embedding_of

from .proxy_helpers import metric_value, model_list, oai

anthropic = pytest.importorskip("anthropic")


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def claude(proxy, key: str = "sk-ant-client"):
    return anthropic.Anthropic(api_key=key, base_url=proxy.url, max_retries=0)


def test_text_completions_plain_and_streamed(proxy, upstream):
    client = oai(proxy)
    prompt = unique("complete")
    before = upstream.total()
    first = client.completions.with_raw_response.create(model="gpt-3.5-turbo-instruct", prompt=prompt)
    assert first.headers["x-dejacache"] == "miss"
    hit = client.completions.with_raw_response.create(model="gpt-3.5-turbo-instruct", prompt=prompt)
    assert hit.headers["x-dejacache"] == "exact" and hit.parse().choices[0].text == first.parse().choices[0].text
    streamed = "".join(
        c.choices[0].text for c in client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompt, stream=True)
    )
    assert streamed == first.parse().choices[0].text and upstream.total() - before == 1


def test_responses_plain_streamed_and_helpers(proxy, upstream):
    client = oai(proxy)
    text = unique("respond")
    before = upstream.total()
    with client.responses.stream(model="gpt-4o", input=text) as stream:
        live = stream.get_final_response().output_text
    assert live.endswith(text)
    hit = client.responses.with_raw_response.create(model="gpt-4o", input=text)
    assert hit.headers["x-dejacache"] == "exact" and hit.parse().output_text == live
    with client.responses.stream(model="gpt-4o", input=text) as stream:
        assert stream.get_final_response().output_text == live
    assert upstream.total() - before == 1


def same(vectors, items) -> bool:
    """The SDK asks for base64 (float32): compare to the fake's vectors at that precision."""
    return len(vectors) == len(items) and all(
        v == pytest.approx(embedding_of(i), rel=1e-6) for v, i in zip(vectors, items)
    )


def test_embeddings_cached_per_item(proxy, upstream):
    client = oai(proxy)
    a, b, c = unique("a"), unique("b"), unique("c")
    first = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input=[a, b])
    assert first.headers["x-dejacache"] == "miss"
    assert same([d.embedding for d in first.parse().data], [a, b])
    before = upstream.total()
    mixed = client.embeddings.create(model="text-embedding-3-small", input=[c, a])
    assert same([d.embedding for d in mixed.data], [c, a])
    assert [d.index for d in mixed.data] == [0, 1]
    assert upstream.requests[-1][2]["input"] == [c]  # only the missing item went upstream
    full = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input=b)
    assert full.headers["x-dejacache"] == "exact" and same([full.parse().data[0].embedding], [b])
    assert upstream.total() - before == 1


def test_anthropic_messages_create_stream_and_errors(proxy, upstream):
    client = claude(proxy)
    text = unique("hello claude")
    msgs = [{"role": "user", "content": text}]
    before = upstream.total()
    first = client.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=64, messages=msgs)
    assert first.headers["x-dejacache"] == "miss" and float(first.headers["x-dejacache-response-cost"]) > 0
    path, headers, body = upstream.requests[-1]
    assert path == "/v1/messages" and headers["x-api-key"] == "sk-ant-client" and "anthropic-version" in headers
    hit = client.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=64, messages=msgs)
    assert hit.headers["x-dejacache"] == "exact"
    assert hit.parse().content[0].text == first.parse().content[0].text
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=msgs) as stream:
        assert "".join(stream.text_stream) == first.parse().content[0].text
        assert stream.get_final_message().usage.input_tokens == first.parse().usage.input_tokens
    assert upstream.total() - before == 1
    # a streamed miss is stored, tool use included
    tools = [{"name": "lookup", "description": "x", "input_schema": {"type": "object"}}]
    other = [{"role": "user", "content": unique("tools")}]
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=other, tools=tools) as stream:
        live = stream.get_final_message()
    again = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=other, tools=tools
    )
    assert again.headers["x-dejacache"] == "exact" and again.parse().content[1].input == live.content[1].input
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model="error-429", max_tokens=8, messages=msgs)
    assert info.value.status_code == 429


def test_anthropic_errors_come_in_anthropic_format(make_proxy, upstream):
    proxy = make_proxy(
        {
            "model_list": [
                {"model_name": "claude-x", "litellm_params": {"model": "anthropic/claude-x", "api_base": upstream.url}}
            ]
        }
    )
    with pytest.raises(anthropic.NotFoundError) as info:
        claude(proxy).messages.create(model="claude-none", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "not_found_error"
    r = httpx.post(proxy.url + "/v1/chat/completions", json={"model": "claude-x", "messages": []})
    assert r.status_code == 404 and "use /v1/messages" in r.json()["error"]["message"]


def test_models_and_model_info(proxy):
    ids = [m.id for m in oai(proxy).models.list()]
    assert ids == ["mini"]  # wildcard routes are not model names
    info = httpx.get(proxy.url + "/v1/model/info").json()["data"]
    mini = next(m for m in info if m["model_name"] == "mini")
    assert mini["litellm_params"]["model"] == "openai/gpt-4o-mini"
    assert mini["model_info"]["supports_prompt_caching"] is True
    assert mini["model_info"]["input_cost_per_token"] > 0 and mini["model_info"]["max_input_tokens"] > 0
    assert httpx.get(proxy.url + "/model/info").json()["data"] == info


def test_health_readiness_metrics_openapi(proxy):
    assert httpx.get(proxy.url + "/health").json()["status"] == "healthy"
    ready = httpx.get(proxy.url + "/health/readiness")
    assert ready.status_code == 200 and ready.json()["store"] == "reachable"
    text = unique("metrics")
    client = oai(proxy)
    for _ in range(2):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    metrics = httpx.get(proxy.url + "/metrics").text
    assert metric_value(metrics, "dejacache_proxy_cache_total", route="chat", outcome="exact") >= 1
    assert (
        metric_value(metrics, "dejacache_proxy_request_seconds_bucket", route="chat", outcome="exact", le="+Inf") >= 1
    )
    assert metric_value(metrics, "dejacache_proxy_saved_usd_total") > 0
    assert metric_value(metrics, "dejacache_cache_hits_total") >= 1 and metric_value(metrics, "dejacache_cache_entries")
    doc = httpx.get(proxy.url + "/openapi.json").json()
    assert (
        doc["openapi"].startswith("3.") and "/v1/chat/completions" in doc["paths"] and "/key/generate" in doc["paths"]
    )


def test_a_dead_store_fails_readiness_but_never_a_call(make_proxy, upstream):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy = make_proxy({"model_list": model_list(upstream.url), "cache": {"store": f"redis://127.0.0.1:{port}/0"}})
    text = unique("store down")
    for _ in range(2):
        r = oai(proxy).chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": text}]
        )
        assert r.status_code == 200 and r.headers["x-dejacache"] == "miss"
    ready = httpx.get(proxy.url + "/health/readiness")
    assert ready.status_code == 503 and ready.json()["status"] == "unhealthy"
    assert httpx.get(proxy.url + "/health").status_code == 200


def test_beta_headers_change_the_key(proxy, upstream):
    client = claude(proxy)
    msgs = [{"role": "user", "content": unique("beta")}]
    plain = client.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=8, messages=msgs)
    beta = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=8, messages=msgs, extra_headers={"anthropic-beta": "some-beta-2025"}
    )
    assert plain.headers["x-dejacache"] == beta.headers["x-dejacache"] == "miss"
    assert plain.headers["x-dejacache-key"] != beta.headers["x-dejacache-key"]
    assert upstream.requests[-1][1]["anthropic-beta"] == "some-beta-2025"
    again = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=8, messages=msgs, extra_headers={"anthropic-beta": "some-beta-2025"}
    )
    assert again.headers["x-dejacache"] == "exact"
