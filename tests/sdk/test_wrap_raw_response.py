"""``with_raw_response.create`` through a wrapped client: a miss is the SDK's real raw response
and fills the same entry as ``create``; a hit is the SDK's own raw-response class around the
cached JSON."""

from __future__ import annotations

import asyncio
import json
import warnings

import pytest

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

import dejacache  # noqa: E402
from anthropic._response import APIResponse, AsyncAPIResponse  # noqa: E402
from anthropic.types import Message  # noqa: E402
from dejacache._sdk import helpers as _helpers  # noqa: E402
from dejacache._sdk import raw as _raw  # noqa: E402
from openai._legacy_response import LegacyAPIResponse  # noqa: E402
from openai.types.chat import ChatCompletion  # noqa: E402

MSGS = [{"role": "user", "content": "raw please"}]
CHAT = {"model": "gpt-4o", "messages": MSGS}
MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": MSGS}


def oai(provider, cache, is_async=False):
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return dejacache.wrap(cls(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache)


def claude(provider, cache, is_async=False):
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return dejacache.wrap(cls(api_key="k", base_url=provider.url, max_retries=0), cache)


def check_hit(hit, miss, body: dict) -> None:
    """What a hit must look like, next to the real raw response ``miss`` of the same SDK."""
    assert type(hit) is type(miss)
    assert type(hit.headers) is type(miss.headers)  # the SDK's own httpx(2).Headers
    assert hit.headers["x-dejacache"] == "exact" and hit.headers["content-type"] == "application/json"
    assert "x-dejacache" not in miss.headers
    assert hit.status_code == 200 and hit.http_response.status_code == 200
    assert type(hit.http_response) is type(miss.http_response)
    assert hit.http_response.json() == {**body, "cache": True}


def test_openai_miss_is_the_real_call_and_hit_is_a_legacy_api_response(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    miss = c.chat.completions.with_raw_response.create(**CHAT)
    assert isinstance(miss, LegacyAPIResponse) and provider.total() == 1 and len(cache) == 1
    answer = miss.parse()
    assert isinstance(answer, ChatCompletion) and getattr(answer, "cache", False) is False

    hit = c.chat.completions.with_raw_response.create(**CHAT)
    assert provider.total() == 1
    parsed = hit.parse()
    assert isinstance(parsed, ChatCompletion) and parsed.cache is True
    assert parsed.choices[0].message.content == answer.choices[0].message.content
    body = answer.model_dump(mode="json", exclude_unset=True)
    check_hit(hit, miss, body)
    assert json.loads(hit.text) == json.loads(hit.content) == {**body, "cache": True}


def test_raw_and_plain_create_share_one_entry_and_the_client_level_path_reaches_it(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    plain = c.chat.completions.create(**CHAT)
    via_client = c.with_raw_response.chat.completions.create(**CHAT)
    assert provider.total() == 1 and via_client.headers["x-dejacache"] == "exact"
    assert via_client.parse().id == plain.id
    other = dejacache.Cache()
    c2 = oai(provider, other)
    c2.with_raw_response.chat.completions.create(**{**CHAT, "messages": [{"role": "user", "content": "two"}]})
    assert c2.chat.completions.create(**{**CHAT, "messages": [{"role": "user", "content": "two"}]}).cache is True
    assert provider.total() == 2


def test_openai_async_raw_response(provider):
    async def run():
        cache = dejacache.Cache()
        c = oai(provider, cache, is_async=True)
        miss = await c.chat.completions.with_raw_response.create(**CHAT)
        hit = await c.with_raw_response.chat.completions.create(**CHAT)
        return miss, hit

    miss, hit = asyncio.run(run())
    assert provider.total() == 1
    assert isinstance(hit, LegacyAPIResponse) and hit.parse().cache is True
    check_hit(hit, miss, miss.parse().model_dump(mode="json", exclude_unset=True))


def test_anthropic_sync_raw_response(provider):
    cache = dejacache.Cache()
    c = claude(provider, cache)
    miss = c.messages.with_raw_response.create(**MESSAGE)
    hit = c.with_raw_response.messages.create(**MESSAGE)
    assert provider.total() == 1 and isinstance(hit, APIResponse)
    parsed = hit.parse()
    assert (
        isinstance(parsed, Message) and parsed.cache is True and parsed.content[0].text == miss.parse().content[0].text
    )
    assert c.messages.create(**MESSAGE).cache is True and provider.total() == 1
    check_hit(hit, miss, miss.parse().model_dump(mode="json", exclude_unset=True))
    assert json.loads(hit.text())["id"] == parsed.id


def test_anthropic_async_raw_response(provider):
    async def run():
        cache = dejacache.Cache()
        c = claude(provider, cache, is_async=True)
        miss = await c.messages.with_raw_response.create(**MESSAGE)
        hit = await c.messages.with_raw_response.create(**MESSAGE)
        return miss, await miss.parse(), hit, await hit.parse(), await hit.text()

    miss, answer, hit, parsed, text = asyncio.run(run())
    assert provider.total() == 1 and isinstance(hit, AsyncAPIResponse)
    assert isinstance(parsed, Message) and parsed.cache is True and getattr(answer, "cache", False) is False
    assert json.loads(text) == {**answer.model_dump(mode="json", exclude_unset=True), "cache": True}
    check_hit(hit, miss, answer.model_dump(mode="json", exclude_unset=True))


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_errors_reach_the_caller_and_are_never_stored(provider, sdk):
    cache = dejacache.Cache()
    if sdk == "openai":
        raw = oai(provider, cache).chat.completions.with_raw_response
        body = {**CHAT, "model": "error-500"}
    else:
        raw = claude(provider, cache).messages.with_raw_response
        body = {**MESSAGE, "model": "error-500"}
    for _ in range(2):
        with pytest.raises((openai.InternalServerError, anthropic.InternalServerError)):
            raw.create(**body)
    assert provider.total() == 2 and len(cache) == 0


def test_streamed_raw_calls_and_caching_false_pass_through(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    for _ in range(2):
        raw = c.chat.completions.with_raw_response.create(**CHAT, stream=True)
        assert "x-dejacache" not in raw.headers
        assert "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
    assert provider.total() == 2 and len(cache) == 0
    for _ in range(2):
        c.chat.completions.with_raw_response.create(**CHAT, caching=False)
    assert provider.total() == 4 and len(cache) == 0
    assert "cache" not in provider.requests[-1][2] and "caching" not in provider.requests[-1][2]


def test_no_store_and_no_cache_controls_apply(provider):
    cache = dejacache.Cache()
    raw = oai(provider, cache).chat.completions.with_raw_response
    raw.create(**CHAT, cache={"no-store": True})
    assert len(cache) == 0
    raw.create(**CHAT)
    fresh = raw.create(**CHAT, cache={"no-cache": True})
    assert provider.total() == 3 and "x-dejacache" not in fresh.headers


def test_unexpected_raw_response_constructor_passes_through_with_one_warning(provider, monkeypatch):
    monkeypatch.setattr(_raw, "_PARAMETERS", ["raw", "cast_to", "client", "something_new"])
    monkeypatch.setattr(_helpers, "_warned", set())
    cache = dejacache.Cache()
    c = oai(provider, cache)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = c.chat.completions.with_raw_response.create(**CHAT, cache={"ttl": 60})
        second = c.with_raw_response.chat.completions.create(**CHAT)
    mine = [w for w in caught if "with_raw_response" in str(w.message)]
    assert len(mine) == 1 and issubclass(mine[0].category, RuntimeWarning)
    assert provider.total() == 2 and len(cache) == 0
    assert isinstance(first, LegacyAPIResponse) and "x-dejacache" not in second.headers
    assert first.parse().choices[0].message.content


def test_concurrent_identical_raw_misses_make_one_call_and_waiters_get_raw_hits(provider):
    async def run():
        c = oai(provider, dejacache.Cache(), is_async=True)
        return await asyncio.gather(
            *(c.chat.completions.with_raw_response.create(**{**CHAT, "model": "slow"}) for _ in range(4))
        )

    answers = asyncio.run(run())
    assert provider.total() == 1 and all(isinstance(r, LegacyAPIResponse) for r in answers)
    marked = [r.headers.get("x-dejacache") for r in answers]
    assert marked.count("exact") == 3 and marked.count(None) == 1
    assert len({r.parse().id for r in answers}) == 1


def test_anthropic_async_fallback_passes_through_with_one_warning(provider, monkeypatch):
    monkeypatch.setattr(_raw, "_PARAMETERS", ["raw", "cast_to"])
    monkeypatch.setattr(_helpers, "_warned", set())

    async def run():
        c = claude(provider, dejacache.Cache(), is_async=True)
        return [await c.messages.with_raw_response.create(**MESSAGE, caching=True) for _ in range(2)]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers = asyncio.run(run())
    assert len([w for w in caught if "messages.with_raw_response" in str(w.message)]) == 1
    assert provider.total() == 2 and all(isinstance(a, AsyncAPIResponse) for a in answers)
    assert all("x-dejacache" not in a.headers for a in answers)
