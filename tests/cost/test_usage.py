"""normalize_usage: every provider's usage, as dicts and as the SDKs' own objects."""

import dejacache
import pytest
from dejacache import UsageError, normalize_usage


def expect(prompt, cached, written, completion, reasoning, total=None, split=None):
    out = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion if total is None else total,
        "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
        "cache_creation_input_tokens": written,
    }
    if split is not None:
        out["cache_creation"] = {"ephemeral_5m_input_tokens": split[0], "ephemeral_1h_input_tokens": split[1]}
    return out


OPENAI_CHAT = {
    "prompt_tokens": 1200,
    "completion_tokens": 100,
    "total_tokens": 1300,
    "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 40, "audio_tokens": 0},
}
OPENAI_RESPONSES = {
    "input_tokens": 1200,
    "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 0},
    "output_tokens": 100,
    "output_tokens_details": {"reasoning_tokens": 40},
    "total_tokens": 1300,
}
ANTHROPIC = {
    "input_tokens": 200,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 3000,
    "cache_creation": {"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 600},
    "output_tokens": 100,
    "service_tier": "standard",
}
DEEPSEEK = {
    "prompt_tokens": 1200,
    "completion_tokens": 100,
    "total_tokens": 1300,
    "prompt_cache_hit_tokens": 1000,
    "prompt_cache_miss_tokens": 200,
    "completion_tokens_details": {"reasoning_tokens": 0},
}
GEMINI = {
    "promptTokenCount": 1200,
    "cachedContentTokenCount": 1000,
    "candidatesTokenCount": 60,
    "thoughtsTokenCount": 40,
    "totalTokenCount": 1300,
}
BEDROCK = {
    "inputTokens": 200,
    "cacheReadInputTokens": 3000,
    "cacheWriteInputTokens": 1000,
    "outputTokens": 100,
    "totalTokens": 4300,
}


@pytest.mark.parametrize(
    ("usage", "provider", "expected"),
    [
        (OPENAI_CHAT, "openai", expect(1200, 1000, 0, 100, 40)),
        (OPENAI_RESPONSES, "openai", expect(1200, 1000, 0, 100, 40)),
        (ANTHROPIC, "anthropic", expect(4200, 3000, 1000, 100, 0, split=(400, 600))),
        (DEEPSEEK, "deepseek", expect(1200, 1000, 0, 100, 0)),
        (GEMINI, "gemini", expect(1200, 1000, 0, 100, 40)),
        (BEDROCK, "bedrock", expect(4200, 3000, 1000, 100, 0)),
    ],
    ids=["openai-chat", "openai-responses", "anthropic", "deepseek", "gemini", "bedrock"],
)
def test_each_provider_detected_and_named(usage, provider, expected):
    assert normalize_usage(usage) == expected
    assert normalize_usage(usage, provider=provider) == expected


def test_normalised_usage_reads_back_unchanged():
    for usage in (OPENAI_CHAT, ANTHROPIC, DEEPSEEK, GEMINI, BEDROCK):
        once = normalize_usage(usage)
        assert normalize_usage(once) == once


def test_gemini_sdk_snake_case_and_tool_prompt():
    usage = {
        "prompt_token_count": 1000,
        "tool_use_prompt_token_count": 50,
        "cached_content_token_count": 600,
        "candidates_token_count": 70,
        "thoughts_token_count": 30,
        "total_token_count": 1150,
    }
    assert normalize_usage(usage) == expect(1050, 600, 0, 100, 30, total=1150)


def test_deepseek_miss_only_and_cached_tokens_form():
    assert (
        normalize_usage({"prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36, "completion_tokens": 5})[
            "prompt_tokens"
        ]
        == 100
    )
    # DeepSeek also sends OpenAI's field; with provider given, either form reads the same.
    u = {"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 64}}
    assert normalize_usage(u, provider="deepseek") == normalize_usage(u)


def test_anthropic_without_split_and_with_split_only():
    u = {"input_tokens": 10, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 0, "output_tokens": 1}
    assert "cache_creation" not in normalize_usage(u)
    u = {
        "input_tokens": 10,
        "cache_creation": {"ephemeral_5m_input_tokens": 5, "ephemeral_1h_input_tokens": 7},
        "output_tokens": 1,
    }
    assert normalize_usage(u) == expect(22, 0, 12, 1, 0, split=(5, 7))


def test_anthropic_plain_input_output_is_anthropic():
    assert normalize_usage({"input_tokens": 3, "output_tokens": 4}) == expect(3, 0, 0, 4, 0)


def test_openai_cache_write_tokens_and_litellm_style_fields():
    u = {
        "prompt_tokens": 2000,
        "completion_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 500, "cache_write_tokens": 1200},
    }
    assert normalize_usage(u) == expect(2000, 500, 1200, 10, 0)
    u = {
        "prompt_tokens": 2000,
        "completion_tokens": 10,
        "cache_read_input_tokens": 500,
        "cache_creation_input_tokens": 1200,
    }
    assert normalize_usage(u) == expect(2000, 500, 1200, 10, 0)


def test_embeddings_usage_has_no_completion():
    assert normalize_usage({"prompt_tokens": 8, "total_tokens": 8}) == expect(8, 0, 0, 0, 0)


def test_null_fields_count_as_zero_and_whole_floats_are_accepted():
    u = {"prompt_tokens": 12.0, "completion_tokens": None, "prompt_tokens_details": None}
    assert normalize_usage(u) == expect(12, 0, 0, 0, 0)
    np = pytest.importorskip("numpy")
    assert normalize_usage({"prompt_tokens": np.int64(7), "completion_tokens": np.uint8(2)}) == expect(7, 0, 0, 2, 0)
    with pytest.raises(UsageError, match="negative"):
        normalize_usage({"prompt_tokens": np.int32(-7)})


@pytest.mark.parametrize(
    ("usage", "words"),
    [
        ({"prompt_tokens": -1, "completion_tokens": 1}, "negative"),
        ({"prompt_tokens": "12", "completion_tokens": 1}, "whole number"),
        ({"prompt_tokens": 1.5, "completion_tokens": 1}, "whole number"),
        ({"prompt_tokens": True, "completion_tokens": 1}, "whole number"),
        ({"prompt_tokens": float("nan")}, "whole number"),
        ({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}}, "prompt_tokens must include"),
        (
            {"prompt_tokens": 10, "completion_tokens": 1, "completion_tokens_details": {"reasoning_tokens": 2}},
            "reasoning",
        ),
        (
            {
                "input_tokens": 1,
                "cache_creation_input_tokens": 2,
                "cache_creation": {"ephemeral_5m_input_tokens": 2, "ephemeral_1h_input_tokens": 1},
            },
            "written",
        ),
        ({"input_tokens": 1, "cache_read_input_tokens": "lots"}, "cache_read_input_tokens"),
        ({"promptTokenCount": -4}, "promptTokenCount"),
        ({"foo": 1, "bar": 2}, "fields seen: ['bar', 'foo']"),
        ({}, "fields seen: []"),
    ],
)
def test_malformed_usage_is_a_clear_value_error(usage, words):
    with pytest.raises(UsageError, match=None) as info:
        normalize_usage(usage)
    assert isinstance(info.value, ValueError)
    assert words in str(info.value)


@pytest.mark.parametrize("usage", [None, "prompt_tokens=3", 12, [1, 2]])
def test_not_a_usage_at_all(usage):
    with pytest.raises(UsageError):
        normalize_usage(usage)


def test_unknown_provider_name():
    with pytest.raises(UsageError, match="unknown provider 'cohere'"):
        normalize_usage(OPENAI_CHAT, provider="cohere")


# -- the SDKs' own objects ---------------------------------------------------------------------

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")


def openai_chat_completion(usage, model="gpt-4o-2024-08-06"):
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
            "usage": usage,
        }
    )


def openai_response(usage, model="gpt-4o"):
    from openai.types.responses import Response

    return Response.model_validate(
        {
            "id": "r",
            "object": "response",
            "created_at": 1,
            "model": model,
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
        }
    )


def anthropic_message(usage, model="claude-sonnet-4-5-20250929"):
    from anthropic.types import Message

    return Message.model_validate(
        {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
    )


def test_openai_sdk_objects():
    chat = openai_chat_completion(OPENAI_CHAT)
    assert normalize_usage(chat.usage) == normalize_usage(OPENAI_CHAT)
    resp = openai_response(OPENAI_RESPONSES)
    assert normalize_usage(resp.usage) == normalize_usage(OPENAI_RESPONSES)


def test_openai_sdk_deepseek_extra_fields():
    chat = openai_chat_completion(DEEPSEEK, model="deepseek-chat")
    assert normalize_usage(chat.usage) == normalize_usage(DEEPSEEK)


def test_anthropic_sdk_objects():
    msg = anthropic_message(ANTHROPIC)
    assert normalize_usage(msg.usage) == normalize_usage(ANTHROPIC)
    # Every field of the SDK's Usage exists (null when unused): still read as Anthropic.
    plain = anthropic_message({"input_tokens": 5, "output_tokens": 7, "output_tokens_details": {"thinking_tokens": 3}})
    assert normalize_usage(plain.usage) == expect(5, 0, 0, 7, 3)


def test_exports():
    for name in (
        "normalize_usage",
        "completion_cost",
        "supports_prompt_caching",
        "model_info",
        "load_prices",
        "strip_cache_control",
        "call_meta",
        "UsageError",
        "UnknownModelError",
    ):
        assert name in dejacache.__all__ and hasattr(dejacache, name)
