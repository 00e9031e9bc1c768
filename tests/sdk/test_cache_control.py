"""strip_cache_control: markers reach Anthropic and compatible gateways, never api.openai.com."""

import copy

import pytest
from dejacache import strip_cache_control

EPHEMERAL = {"type": "ephemeral"}


def chat_body():
    return {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "long legal text", "cache_control": EPHEMERAL}]},
            {"role": "user", "content": "plain string content"},
            {"role": "user", "content": [{"type": "text", "text": "q"}], "cache_control": EPHEMERAL},
            {"role": "assistant", "content": None, "tool_calls": []},
        ],
        "tools": [
            {
                "type": "function",
                "cache_control": EPHEMERAL,
                "function": {
                    "name": "f",
                    "parameters": {"type": "object", "properties": {"cache_control": {"type": "string"}}},
                },
            },
            {"type": "function", "function": {"name": "g", "cache_control": EPHEMERAL, "parameters": {}}},
        ],
    }


def markers(obj, path=""):
    """Paths of every cache_control key that is a marker (not a JSON-schema property name)."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "cache_control" and not path.endswith("properties"):
                found.append(path)
            found += markers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += markers(v, f"{path}[{i}]")
    return found


@pytest.mark.parametrize(
    "base_url", [None, "https://api.openai.com/v1", "https://API.OPENAI.COM/v1/", "api.openai.com/v1"]
)
def test_removed_for_the_official_openai_host(base_url):
    body = chat_body()
    before = copy.deepcopy(body)
    out = strip_cache_control(body, base_url)
    assert markers(out) == []
    assert body == before  # the caller's dict is untouched
    # A tool parameter that happens to be called cache_control is part of the schema, not a marker.
    assert out["tools"][0]["function"]["parameters"]["properties"] == {"cache_control": {"type": "string"}}
    assert out["messages"][1] is body["messages"][1]  # unchanged parts are shared, not copied
    assert out["messages"][2]["content"] == [{"type": "text", "text": "q"}]


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:4000",
        "https://api.deepseek.com",
        "https://openrouter.ai/api/v1",
        "https://api.openai.com.evil.example/v1",
    ],
)
def test_kept_for_openai_compatible_base_urls(base_url):
    body = chat_body()
    assert strip_cache_control(body, base_url) is body


def test_kept_for_anthropic():
    body = {
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "s", "cache_control": EPHEMERAL}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "q", "cache_control": EPHEMERAL}]}],
        "tools": [{"name": "t", "input_schema": {}, "cache_control": EPHEMERAL}],
    }
    assert strip_cache_control(body, None, provider="anthropic") is body
    assert strip_cache_control(body, "https://api.anthropic.com", provider="anthropic") is body


def test_system_blocks_responses_input_and_top_level():
    body = {
        "model": "gpt-4o",
        "cache_control": EPHEMERAL,
        "system": [{"type": "text", "text": "s", "cache_control": EPHEMERAL}],
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "q", "cache_control": EPHEMERAL}]}],
    }
    before = copy.deepcopy(body)
    out = strip_cache_control(body, None)
    assert markers(out) == [] and body == before
    assert out["input"][0]["content"][0] == {"type": "input_text", "text": "q"}


def test_nothing_to_strip_returns_the_same_dict():
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "input": "text"}
    assert strip_cache_control(body, None) is body


def test_bad_arguments():
    with pytest.raises(TypeError):
        strip_cache_control([], None)
    with pytest.raises(TypeError):
        strip_cache_control({}, 42)
