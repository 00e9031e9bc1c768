"""Slice 1: POST /v1/chat/completions through the proxy with the official openai SDK."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import openai
import pytest

from .proxy_helpers import aoai, model_list, oai


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def test_miss_then_exact_hit_with_headers(proxy, upstream):
    client = oai(proxy)
    text = unique("what is a cache")
    before = upstream.total()
    first = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=ask(text))
    second = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=ask(text))
    assert upstream.total() - before == 1
    assert first.headers["x-dejacache"] == "miss" and second.headers["x-dejacache"] == "exact"
    assert first.headers["x-dejacache-key"] == second.headers["x-dejacache-key"]
    assert len(first.headers["x-dejacache-key"]) == 32
    a, b = first.parse(), second.parse()
    assert a.choices[0].message.content == b.choices[0].message.content
    assert b.choices[0].message.content.endswith(text) and b.usage == a.usage
    # what the miss cost, by part; what the hit saved
    cost = float(first.headers["x-dejacache-response-cost"])
    parts = dict(p.split("=") for p in first.headers["x-dejacache-response-cost-breakdown"].split(";"))
    assert set(parts) == {"input", "output", "cache_read", "cache_creation"}
    assert cost > 0 and abs(sum(map(float, parts.values())) - cost) < 1e-12
    assert float(parts["input"]) > 0 and float(parts["output"]) > 0
    assert first.headers["x-dejacache-saved-usd"] == "0"
    assert second.headers["x-dejacache-response-cost"] == "0"
    assert float(second.headers["x-dejacache-saved-usd"]) == pytest.approx(cost)
    assert "x-dejacache-similarity" not in second.headers


def test_alias_keys_by_upstream_model_and_sends_route_key(make_proxy, upstream):
    proxy = make_proxy({"model_list": model_list(upstream.url, api_key="sk-upstream-SECRET")})
    client = oai(proxy, key="sk-client-key")
    text = unique("alias")
    r = client.chat.completions.with_raw_response.create(model="mini", messages=ask(text))
    path, headers, body = upstream.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "gpt-4o-mini"
    assert headers["authorization"] == "Bearer sk-upstream-SECRET"
    assert "SECRET" not in json.dumps(dict(r.headers)) and "SECRET" not in r.text
    # the alias and the upstream name are one entry: same model, same base URL
    again = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=ask(text))
    assert again.headers["x-dejacache"] == "exact"


def test_client_key_is_forwarded_when_the_route_has_none(proxy, upstream):
    oai(proxy, key="sk-client-own").chat.completions.create(model="gpt-4o", messages=ask(unique("fwd")))
    assert upstream.requests[-1][1]["authorization"] == "Bearer sk-client-own"


@pytest.mark.parametrize(
    "status, error", [(400, openai.BadRequestError), (429, openai.RateLimitError), (500, openai.InternalServerError)]
)
def test_upstream_errors_pass_through_and_are_never_cached(proxy, upstream, status, error):
    client = oai(proxy)
    before = upstream.total()
    for _ in range(2):
        with pytest.raises(error) as info:
            client.chat.completions.create(model=f"error-{status}", messages=ask("x"))
        assert info.value.status_code == status
        assert info.value.body["message"] == f"fake error {status}"
        assert info.value.response.headers["x-dejacache"] == "miss"
    assert upstream.total() - before == 2


def test_upstream_timeout_is_504_and_not_cached(make_proxy, upstream):
    proxy = make_proxy({"model_list": model_list(upstream.url, timeout=0.05)})
    upstream.delay = 0.3
    with pytest.raises(openai.APIStatusError) as info:
        oai(proxy).chat.completions.create(model="slow", messages=ask(unique("t")))
    assert info.value.status_code == 504
    assert info.value.body["message"] == "the upstream provider for model 'slow' did not answer in time"
    assert proxy.cache.stats()["stores"] == 0


def test_bad_json_unknown_model_and_size_limit(make_proxy, upstream):
    proxy = make_proxy({"model_list": model_list(upstream.url)[:1], "server": {"max_body_bytes": 2000}})
    url = proxy.url + "/v1/chat/completions"
    r = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(url, content=b"[1, 2]")
    assert r.status_code == 400 and "JSON object" in r.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError) as info:
        oai(proxy).chat.completions.create(model="gpt-nope", messages=ask("x"))
    assert info.value.body["code"] == "404" and "gpt-nope" in info.value.body["message"]
    with pytest.raises(openai.APIStatusError) as info:
        oai(proxy).chat.completions.create(model="mini", messages=ask("x" * 3000))
    assert info.value.status_code == 413
    # a chunked body without content-length is counted as it arrives
    r = httpx.post(url, content=iter([b'{"model": "mini", "messages": "', b"y" * 3000, b'"}']))
    assert r.status_code == 413


def test_body_cache_field_and_cache_control_header(proxy, upstream):
    client = oai(proxy)
    text = unique("controls")
    first = client.chat.completions.create(model="gpt-4o", messages=ask(text))
    # no-cache: skip the read, store the fresh answer
    fresh = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask(text), extra_body={"cache": {"no-cache": True}}
    )
    assert fresh.headers["x-dejacache"] == "miss"
    assert fresh.parse().choices[0].message.content != first.choices[0].message.content
    again = client.chat.completions.create(model="gpt-4o", messages=ask(text))
    assert again.choices[0].message.content == fresh.parse().choices[0].message.content
    # the cache field never reaches the provider
    assert "cache" not in upstream.requests[-1][2]
    # Cache-Control: no-store reads but never writes
    other = unique("nostore")
    r = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask(other), extra_headers={"Cache-Control": "no-store"}
    )
    assert r.headers["x-dejacache"] == "miss"
    r = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ask(other))
    assert r.headers["x-dejacache"] == "miss"
    # max-age=0 refuses every stored entry
    r = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask(text), extra_headers={"Cache-Control": "max-age=0"}
    )
    assert r.headers["x-dejacache"] == "miss"
    # bad controls are a 400 saying what is allowed
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=ask(text), extra_body={"cache": {"bogus": 1}})
    assert "unknown cache control 'bogus'" in info.value.body["message"]


def test_namespaces_never_share_entries(proxy):
    client = oai(proxy)
    text = unique("tenant")
    client.chat.completions.create(model="gpt-4o", messages=ask(text), extra_body={"cache": {"namespace": "a"}})
    r = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask(text), extra_body={"cache": {"namespace": "b"}}
    )
    assert r.headers["x-dejacache"] == "miss"


def test_semantic_hit_with_similarity(make_proxy, upstream):
    config = {
        "model_list": model_list(upstream.url),
        "cache": {"semantic": {"embedder": "hashing", "threshold": 0.9, "evaluator": "cosine"}},
    }
    proxy = make_proxy(config)
    client = oai(proxy)
    client.chat.completions.create(model="gpt-4o", messages=ask("What is the capital city of France?"))
    r = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask("what is the capital city of france")
    )
    assert r.headers["x-dejacache"] == "semantic"
    assert 0.9 <= float(r.headers["x-dejacache-similarity"]) <= 1.0
    assert r.parse().choices[0].message.content.endswith("What is the capital city of France?")


async def test_concurrent_identical_misses_make_one_upstream_call(proxy, upstream):
    upstream.delay = 0.3
    client = aoai(proxy)
    text = unique("flight")
    before = upstream.total()
    answers = await asyncio.gather(
        *(client.chat.completions.create(model="slow-model", messages=ask(text)) for _ in range(5))
    )
    assert upstream.total() - before == 1
    assert len({a.choices[0].message.content for a in answers}) == 1
    await client.close()


def test_a_wrapped_sdk_client_and_the_proxy_share_entries(make_proxy, upstream):
    import dejacache

    cache = dejacache.Cache()
    proxy = make_proxy({"model_list": model_list(upstream.url)}, cache=cache)
    wrapped = cache.wrap(openai.OpenAI(api_key="sk-x", base_url=upstream.url + "/v1", max_retries=0))
    text = unique("shared with the wrapper")
    stored = wrapped.chat.completions.create(model="gpt-4o", messages=ask(text), temperature=0)
    r = oai(proxy).chat.completions.with_raw_response.create(model="gpt-4o", messages=ask(text), temperature=0)
    assert r.headers["x-dejacache"] == "exact"
    assert r.parse().choices[0].message.content == stored.choices[0].message.content


def test_cache_control_markers_are_stripped_only_for_the_official_openai_host():
    from dejacache.proxy import ModelRoute
    from dejacache.proxy._calls import KINDS, Call

    marked = {
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}
        ],
    }
    official = Call(
        KINDS["chat"], ModelRoute("*", "openai", "*", "https://api.openai.com/v1"), marked, None, None, None
    )
    assert "cache_control" not in official.upstream_body["messages"][0]["content"][0]
    assert "cache_control" not in official.key_doc["messages"][0]["content"][0]
    gateway = Call(KINDS["chat"], ModelRoute("*", "openai", "*", "http://127.0.0.1:9/v1"), marked, None, None, None)
    assert gateway.upstream_body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_openai_compatible_usage_gets_openai_cached_tokens(proxy):
    """DeepSeek reports its prompt cache as prompt_cache_hit_tokens; clients also get OpenAI's field."""
    client = oai(proxy)
    text = unique("deepseek")
    miss = client.chat.completions.create(model="deepseek-chat", messages=ask(text))
    hit = client.chat.completions.create(model="deepseek-chat", messages=ask(text))
    streamed = unique("deepseek stream")
    list(client.chat.completions.create(model="deepseek-chat", messages=ask(streamed), stream=True))
    raw = client.chat.completions.with_raw_response.create(model="deepseek-chat", messages=ask(streamed))
    assert raw.headers["x-dejacache"] == "exact"  # the assembled stream, stored
    from_stream = raw.parse()
    for answer in (miss, hit, from_stream):
        assert answer.usage.prompt_tokens_details.cached_tokens == 4
        assert answer.usage.model_extra["prompt_cache_hit_tokens"] == 4


def test_upstream_keys_never_reach_an_error_body_or_a_log(make_proxy, caplog):
    import logging
    import socket

    with socket.socket() as s:  # nothing listens here: the upstream is unreachable
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    caplog.set_level(logging.DEBUG)
    proxy = make_proxy({"model_list": model_list(dead, api_key="sk-upstream-SECRET")})
    with pytest.raises(openai.APIStatusError) as info:
        oai(proxy).chat.completions.create(model="gpt-4o", messages=ask("x"))
    assert info.value.status_code == 502
    assert "could not be reached" in info.value.body["message"]
    assert "SECRET" not in info.value.response.text and "SECRET" not in str(dict(info.value.response.headers))
    assert "httpcore" in caplog.text and "SECRET" not in caplog.text  # the client logged, without the key
    assert "SECRET" not in repr(proxy.gateway.config)


async def test_a_failed_flight_leader_leaves_waiters_to_call_themselves(make_proxy, upstream):
    proxy = make_proxy()
    gateway = proxy.gateway
    real_fetch = gateway._fetch
    calls = []

    async def fetch(call, request):
        calls.append(call)
        if len(calls) == 1:  # the leader breaks after the waiter has joined it
            await asyncio.sleep(0.3)
            raise RuntimeError("leader broke")
        return await real_fetch(call, request)

    gateway._fetch = fetch
    client = aoai(proxy)
    text = unique("broken leader")
    leader = asyncio.ensure_future(client.chat.completions.create(model="gpt-4o", messages=ask(text)))
    await asyncio.sleep(0.1)
    waiter = await client.chat.completions.create(model="gpt-4o", messages=ask(text))
    with pytest.raises(openai.InternalServerError):
        await leader
    assert waiter.choices[0].message.content.endswith(text) and len(calls) == 2
    await client.close()
