"""Cost headers: what an answer cost (with its breakdown) and what a hit saved."""

from __future__ import annotations

import time
from typing import Any

from .._cost.cost import price_table
from .._cost.pricing import _in_range, for_call, multiplier
from .._cost.usage import read_counts
from .._errors import PriceError, UnknownModelError, UsageError

_PARTS = ("input", "output", "cache_read", "cache_creation")


def cost_breakdown(answer: Any) -> dict[str, float] | None:
    """USD of one provider answer by part (uncached input, output, cache reads, cache writes)
    and in total, priced as ``dejacache.completion_cost`` prices it; None when the answer has
    no readable usage or its model no price."""
    if not isinstance(answer, dict):
        return None
    try:
        usage = answer.get("usage")
        counts = read_counts(usage)
        model = answer.get("model")
        if not isinstance(model, str):
            return None
        prices = price_table().prices(model)
        factor = multiplier(prices, usage)
        if prices.service is not None or prices.off_peak is not None:
            created = answer.get("created")
            at = float(created) if isinstance(created, (int, float)) else time.time()
            prices = for_call(prices, answer.get("service_tier"), usage, at)
    except (UsageError, UnknownModelError, PriceError, TypeError, AttributeError):
        return None
    p = prices
    if p.ranges:
        p = _in_range(p, counts.prompt)
    elif p.tiers:
        for threshold, tier in p.tiers:
            if counts.prompt > threshold:
                p = tier
                break
    parts = {
        "input": (counts.prompt - counts.cached - counts.written) * p.input * factor,
        "output": ((counts.completion - counts.reasoning) * p.output + counts.reasoning * p.reasoning) * factor,
        "cache_read": counts.cached * p.cache_read * factor,
        "cache_creation": (
            (counts.written - counts.written_1h) * p.cache_write_5m + counts.written_1h * p.cache_write_1h
        )
        * factor,
    }
    parts["total"] = sum(parts[k] for k in _PARTS)
    return parts


def _usd(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"


def miss_headers(answer: Any) -> dict[str, str]:
    """Headers of an answer the provider just gave: its cost and nothing saved."""
    parts = cost_breakdown(answer)
    out = {"x-dejacache-saved-usd": "0"}
    if parts is not None:
        out["x-dejacache-response-cost"] = _usd(parts["total"])
        out["x-dejacache-response-cost-breakdown"] = ";".join(f"{k}={_usd(parts[k])}" for k in _PARTS)
    return out


def hit_headers(meta: Any) -> dict[str, str]:
    """Headers of an answer from the cache: it cost nothing; it saved what the original cost."""
    saved = meta.get("cost_usd") if isinstance(meta, dict) else None
    return {
        "x-dejacache-response-cost": "0",
        "x-dejacache-response-cost-breakdown": ";".join(f"{k}=0" for k in _PARTS),
        "x-dejacache-saved-usd": _usd(saved) if isinstance(saved, (int, float)) and saved >= 0 else "0",
    }


def add_cached_tokens(answer: dict) -> bool:
    """Gives an OpenAI-format answer from an OpenAI-compatible service that reports its prompt
    cache in its own fields (DeepSeek's ``prompt_cache_hit_tokens``) OpenAI's
    ``prompt_tokens_details.cached_tokens`` too, so every client reads one shape; the service's
    own fields stay. True when the answer changed."""
    usage = answer.get("usage")
    if not isinstance(usage, dict) or "prompt_tokens" not in usage or "prompt_tokens_details" in usage:
        return False
    try:
        counts = read_counts(usage)
    except (UsageError, TypeError):
        return False
    usage["prompt_tokens_details"] = {"cached_tokens": counts.cached}
    return True
