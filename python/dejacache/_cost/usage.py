"""Token usage of every provider, read into one shape: OpenAI's, with prompt-caching fields.

Providers count cached prompt tokens differently: OpenAI and Gemini include them in the prompt
count, Anthropic and Bedrock report them beside it, DeepSeek reports hits and misses. The
normalised form always has ``prompt_tokens`` *including* cache reads and cache writes, so
``prompt_tokens - cached_tokens - cache_creation_input_tokens`` is what was billed at the full
input price.

This module holds each provider's reader, the shape detection and the normalised form; reading a
field of a dict or an SDK object and checking the counts is ``counts``.
"""

from __future__ import annotations

from typing import Any

from .._errors import UsageError
from .counts import Counts, _checked, _get, _has, _n, _nested, _total, _write_split, fields, fields_seen


def _openai(usage: Any) -> Counts:
    prompt = _n(_get(usage, "prompt_tokens"), "prompt_tokens")
    cached = _nested(usage, "prompt_tokens_details", "cached_tokens")
    if cached == 0:
        # OpenAI-shaped usage re-emitted by LiteLLM or this module's own output.
        cached = _n(_get(usage, "cache_read_input_tokens"), "cache_read_input_tokens")
    written_raw = _get(usage, "cache_creation_input_tokens")
    if written_raw is None:
        details = _get(usage, "prompt_tokens_details")
        if details is not None:
            written_raw = _get(details, "cache_write_tokens")
            if written_raw is None:
                written_raw = _get(details, "cache_creation_tokens")
    written, w1, split = _write_split(usage, written_raw)
    if written and cached <= prompt < cached + written:
        # LiteLLM's usage for Claude on Vertex (and some of its older releases) counts cache
        # reads in prompt_tokens but leaves the cache writes out: add them back.
        prompt += written
    completion = _n(_get(usage, "completion_tokens"), "completion_tokens")
    reasoning = _nested(usage, "completion_tokens_details", "reasoning_tokens")
    return _checked(prompt, cached, written, w1, completion, reasoning, _total(usage, "total_tokens"), split)


def _openai_responses(usage: Any) -> Counts:
    prompt = _n(_get(usage, "input_tokens"), "input_tokens")
    cached = _nested(usage, "input_tokens_details", "cached_tokens")
    written = _nested(usage, "input_tokens_details", "cache_write_tokens")
    completion = _n(_get(usage, "output_tokens"), "output_tokens")
    reasoning = _nested(usage, "output_tokens_details", "reasoning_tokens")
    return _checked(prompt, cached, written, 0, completion, reasoning, _total(usage, "total_tokens"), False)


def _deepseek(usage: Any) -> Counts:
    hit = _get(usage, "prompt_cache_hit_tokens")
    if hit is None:
        cached = _nested(usage, "prompt_tokens_details", "cached_tokens")
    else:
        cached = _n(hit, "prompt_cache_hit_tokens")
    prompt_raw = _get(usage, "prompt_tokens")
    if prompt_raw is None:
        prompt = cached + _n(_get(usage, "prompt_cache_miss_tokens"), "prompt_cache_miss_tokens")
    else:
        prompt = _n(prompt_raw, "prompt_tokens")
    completion = _n(_get(usage, "completion_tokens"), "completion_tokens")
    reasoning = _nested(usage, "completion_tokens_details", "reasoning_tokens")
    return _checked(prompt, cached, 0, 0, completion, reasoning, _total(usage, "total_tokens"), False)


def _anthropic(usage: Any) -> Counts:
    iterations = _get(usage, "iterations")
    if iterations:
        return _anthropic_iterations(usage, iterations)
    uncached = _n(_get(usage, "input_tokens"), "input_tokens")
    cached = _n(_get(usage, "cache_read_input_tokens"), "cache_read_input_tokens")
    written_raw = _get(usage, "cache_creation_input_tokens")
    written, w1, split = _write_split(usage, written_raw)
    completion = _n(_get(usage, "output_tokens"), "output_tokens")
    reasoning = _nested(usage, "output_tokens_details", "thinking_tokens")
    return _checked(uncached + cached + written, cached, written, w1, completion, reasoning, None, split)


def _anthropic_iterations(usage: Any, iterations: Any) -> Counts:
    """Usage of a response that ran several sampling iterations (server-side compaction): the
    top-level counts describe the last iteration only, so every iteration is summed, as
    Anthropic bills them and as LiteLLM counts them."""
    if not isinstance(iterations, (list, tuple)):
        raise UsageError(f"usage.iterations must be a list of per-iteration usages, not {type(iterations).__name__}")
    uncached = cached = written = w5 = w1 = completion = thinking = 0
    split = False
    thinking_known = True
    for i, it in enumerate(iterations):
        if isinstance(it, (str, bytes, int, float, list, tuple)) or it is None:
            raise UsageError(f"usage.iterations[{i}] must be a usage object, not {type(it).__name__}")
        it = fields(it)
        uncached += _n(_get(it, "input_tokens"), f"iterations[{i}].input_tokens")
        cached += _n(_get(it, "cache_read_input_tokens"), f"iterations[{i}].cache_read_input_tokens")
        written += _n(_get(it, "cache_creation_input_tokens"), f"iterations[{i}].cache_creation_input_tokens")
        completion += _n(_get(it, "output_tokens"), f"iterations[{i}].output_tokens")
        breakdown = _get(it, "cache_creation")
        if breakdown is not None:
            split = True
            where = f"iterations[{i}].cache_creation"
            w5 += _n(_get(breakdown, "ephemeral_5m_input_tokens"), f"{where}.ephemeral_5m_input_tokens")
            w1 += _n(_get(breakdown, "ephemeral_1h_input_tokens"), f"{where}.ephemeral_1h_input_tokens")
        details = _get(it, "output_tokens_details")
        tokens = None if details is None else _get(details, "thinking_tokens")
        if tokens is None:
            thinking_known = False
        else:
            thinking += _n(tokens, f"iterations[{i}].output_tokens_details.thinking_tokens")
    if split:
        # A write an iteration did not break down was kept 5 minutes (Anthropic's default).
        written = max(written, w5 + w1)
    else:
        _, w1, split = _write_split(usage, written)
    if thinking_known:
        reasoning = thinking
    else:
        reasoning = _nested(usage, "output_tokens_details", "thinking_tokens")
    reasoning = min(reasoning, completion)
    return _checked(uncached + cached + written, cached, written, w1, completion, reasoning, None, split)


def _gemini(usage: Any) -> Counts:
    camel = (
        _get(usage, "promptTokenCount") is not None
        or _get(usage, "candidatesTokenCount") is not None
        or _get(usage, "totalTokenCount") is not None
    )
    names = (
        (
            "promptTokenCount",
            "toolUsePromptTokenCount",
            "cachedContentTokenCount",
            "candidatesTokenCount",
            "thoughtsTokenCount",
            "totalTokenCount",
        )
        if camel
        else (
            "prompt_token_count",
            "tool_use_prompt_token_count",
            "cached_content_token_count",
            "candidates_token_count",
            "thoughts_token_count",
            "total_token_count",
        )
    )
    p, tool, c, out, th = (_n(_get(usage, k), k) for k in names[:5])
    tot = _total(usage, names[5])
    # Gemini counts thoughts beside the candidates; OpenAI's completion_tokens include reasoning.
    return _checked(p + tool, c, 0, 0, out + th, th, tot, False)


def _bedrock(usage: Any) -> Counts:
    uncached = _n(_get(usage, "inputTokens"), "inputTokens")
    cached = _n(_get(usage, "cacheReadInputTokens"), "cacheReadInputTokens")
    written = _n(_get(usage, "cacheWriteInputTokens"), "cacheWriteInputTokens")
    completion = _n(_get(usage, "outputTokens"), "outputTokens")
    return _checked(uncached + cached + written, cached, written, 0, completion, 0, _total(usage, "totalTokens"), False)


_READERS = {
    "openai": _openai,
    "openai_responses": _openai_responses,
    "deepseek": _deepseek,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "bedrock": _bedrock,
}
_PROVIDER_FAMILY = {
    "openai": "openai",
    "azure": "openai",
    "text-completion-openai": "openai",
    "deepseek": "deepseek",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "vertex_ai": "gemini",
    "google": "gemini",
    "bedrock": "bedrock",
    "bedrock_converse": "bedrock",
}


_ANTHROPIC_ONLY = ("cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation")


def _detect(usage: Any) -> str | None:
    if _get(usage, "prompt_cache_hit_tokens") is not None or _get(usage, "prompt_cache_miss_tokens") is not None:
        return "deepseek"
    if _get(usage, "prompt_tokens") is not None:
        return "openai"
    if _get(usage, "input_tokens") is not None or _get(usage, "output_tokens") is not None:
        # Both OpenAI's Responses API and Anthropic say input_tokens / output_tokens, but only
        # the Responses API counts cached tokens inside input_tokens.
        if _get(usage, "input_tokens_details") is not None:
            return "openai_responses"
        if any(_has(usage, name) for name in _ANTHROPIC_ONLY):
            return "anthropic"
        out_details = _get(usage, "output_tokens_details")
        if _get(usage, "total_tokens") is not None or (
            out_details is not None and _get(out_details, "reasoning_tokens") is not None
        ):
            return "openai_responses"
        return "anthropic"
    for name in (
        "promptTokenCount",
        "prompt_token_count",
        "candidatesTokenCount",
        "candidates_token_count",
        "totalTokenCount",
        "total_token_count",
    ):
        if _get(usage, name) is not None:
            return "gemini"
    if _get(usage, "inputTokens") is not None or _get(usage, "outputTokens") is not None:
        return "bedrock"
    if _get(usage, "completion_tokens") is not None or _get(usage, "total_tokens") is not None:
        return "openai"
    return None


def read_counts(usage: Any, provider: str | None = None) -> Counts:
    """The token counts of ``usage`` (a dict or an SDK object) from any supported provider."""
    if usage is None:
        raise UsageError(
            "no usage to read (the response carries none; streamed responses need "
            "stream_options={'include_usage': True} on OpenAI)"
        )
    if isinstance(usage, (str, bytes, int, float, list, tuple)):
        raise UsageError(f"usage must be a dict or an SDK usage object, not {type(usage).__name__}")
    usage = fields(usage)
    if provider is None:
        kind = _detect(usage)
        if kind is None:
            raise UsageError(
                f"unrecognised usage shape; fields seen: {fields_seen(usage)}. Expected OpenAI "
                "(prompt_tokens), Anthropic (input_tokens), DeepSeek (prompt_cache_hit_tokens), "
                "Gemini (promptTokenCount) or Bedrock (inputTokens) usage"
            )
    else:
        family = _PROVIDER_FAMILY.get(str(provider).lower())
        if family is None:
            raise UsageError(f"unknown provider {provider!r}; use one of {sorted(_PROVIDER_FAMILY)} or None to detect")
        kind = family
        if family == "openai" and _get(usage, "prompt_tokens") is None and _get(usage, "input_tokens") is not None:
            kind = "openai_responses"
        elif family == "deepseek" and _detect(usage) == "openai":
            kind = "openai"  # DeepSeek's OpenAI-style cached_tokens without its own hit/miss fields
    return _READERS[kind](usage)


def usage_dict(c: Counts) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": c.prompt,
        "completion_tokens": c.completion,
        "total_tokens": c.total,
        "prompt_tokens_details": {"cached_tokens": c.cached, "cache_write_tokens": c.written},
        "completion_tokens_details": {"reasoning_tokens": c.reasoning},
        "cache_creation_input_tokens": c.written,
    }
    if c.split_known:
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": c.written - c.written_1h,
            "ephemeral_1h_input_tokens": c.written_1h,
        }
    return out


def normalize_usage(usage: Any, provider: str | None = None) -> dict[str, Any]:
    """Any provider's usage (dict or SDK object) in OpenAI's shape, with prompt-caching fields.

    ``prompt_tokens`` includes cache reads (``prompt_tokens_details.cached_tokens``) and cache
    writes (``cache_creation_input_tokens``, with ``cache_creation`` holding the 5-minute / 1-hour
    split when the provider reports it); ``completion_tokens`` includes
    ``completion_tokens_details.reasoning_tokens``. ``provider`` (``"openai"``, ``"anthropic"``,
    ``"deepseek"``, ``"gemini"``, ``"bedrock"``, ...) is detected from the fields when None.

    >>> normalize_usage({"input_tokens": 200, "cache_read_input_tokens": 3000,
    ...                  "cache_creation_input_tokens": 0, "output_tokens": 100})["prompt_tokens"]
    3200

    Raises ``UsageError`` (a ``ValueError``) for an unknown shape or counts that are not whole
    numbers >= 0.
    """
    return usage_dict(read_counts(usage, provider))
