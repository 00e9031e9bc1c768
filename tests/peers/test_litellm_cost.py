"""LiteLLM's cost and usage expectations (tests/test_litellm/litellm_core_utils/llm_cost_calc/:
threshold selection and tiered pricing; the Anthropic usage and compaction tests; the Vertex
usage-metadata tests), asked of dejacache's completion_cost and normalize_usage.

Where LiteLLM's test reads an internal (a rate it selected), the same fact is checked through
the cost of a call that uses only that rate. Values marked "LiteLLM 1.110.2" are what that
release's completion_cost returns for the same input.
"""

from __future__ import annotations

import math

import pytest
from dejacache import PriceError, completion_cost, load_prices, normalize_usage
from dejacache._cost import cost as _cost


@pytest.fixture(autouse=True)
def fresh_prices():
    _cost._table = None
    yield
    _cost._table = None


def cost(entry: dict, usage: dict, service_tier: str | None = None) -> float:
    """completion_cost of ``usage`` for a model priced by ``entry`` alone."""
    name = f"peer-model-{abs(hash(repr(sorted(entry.items())))):x}"
    load_prices({name: entry})
    response = {"model": name, "usage": usage}
    if service_tier is not None:
        response["service_tier"] = service_tier
    return completion_cost(response)


def only_output(n_prompt: int) -> dict:
    return {"prompt_tokens": n_prompt, "completion_tokens": 1000, "total_tokens": n_prompt + 1000}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9)


BASE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "cache_read_input_token_cost": 5e-7}


# -- test_threshold_cost_selection.py -----------------------------------------------------------


def test_standalone_output_threshold_selects_its_tier():
    c = cost({**BASE, "output_cost_per_token_above_32k_tokens": 18e-6}, only_output(40_000))
    assert close(c, 40_000 * 1e-6 + 1000 * 18e-6)


def test_standalone_cache_read_threshold_selects_its_tier():
    usage = {"prompt_tokens": 40_000, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 10_000}}
    c = cost({**BASE, "cache_read_input_token_cost_above_32k_tokens": 4e-6}, usage)
    assert close(c, 30_000 * 1e-6 + 10_000 * 4e-6)


def test_cost_types_select_thresholds_independently():
    entry = {
        "input_cost_per_token": 1e-6,
        "output_cost_per_token": 2e-6,
        "input_cost_per_token_above_128k_tokens": 9e-6,
        "output_cost_per_token_above_32k_tokens": 18e-6,
    }
    assert close(cost(entry, only_output(40_000)), 40_000 * 1e-6 + 1000 * 18e-6)


@pytest.mark.parametrize("order", ["standard-first", "priority-first"])
def test_equal_threshold_matching_tier_wins(order):
    rates = [
        ("output_cost_per_token_above_200k_tokens", 1e-6),
        ("output_cost_per_token_above_200k_tokens_priority", 1.5e-6),
    ]
    if order == "priority-first":
        rates.reverse()
    entry = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, **dict(rates)}
    assert close(cost(entry, only_output(250_000), "priority"), 250_000 * 1e-6 + 1000 * 1.5e-6)
    assert close(cost(entry, only_output(250_000)), 250_000 * 1e-6 + 1000 * 1e-6)  # default tier: standard
    assert close(cost(entry, only_output(250_000), "flex"), 250_000 * 1e-6 + 1000 * 1e-6)  # another tier


def test_equal_threshold_matching_tier_wins_for_cache_read():
    entry = {
        "input_cost_per_token": 1e-6,
        "cache_read_input_token_cost": 2e-7,
        "cache_read_input_token_cost_above_200k_tokens": 3e-7,
        "cache_read_input_token_cost_above_200k_tokens_priority": 4e-7,
    }
    usage = {"prompt_tokens": 250_000, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 100_000}}
    # Difference: LiteLLM prices a missing output rate at 0; dejacache refuses the entry rather
    # than bill completions as free without saying so. With the output rate stated, they agree.
    with pytest.raises(PriceError, match="output_cost_per_token"):
        cost(entry, usage, "priority")
    entry["output_cost_per_token"] = 0.0
    assert close(cost(entry, usage, "priority"), 150_000 * 1e-6 + 100_000 * 4e-7)


def test_a_higher_standard_threshold_governs_a_lower_tier_threshold():
    entry = {
        "input_cost_per_token": 1e-6,
        "output_cost_per_token": 2e-6,
        "output_cost_per_token_above_200k_tokens": 1e-6,
        "output_cost_per_token_above_128k_tokens_priority": 1.5e-6,
    }
    assert close(cost(entry, only_output(250_000), "priority"), 250_000 * 1e-6 + 1000 * 1e-6)


def test_tier_qualified_threshold_applies_only_to_its_tier():
    entry = {**BASE, "output_cost_per_token_above_200k_tokens_priority": 1.5e-6}
    assert close(cost(entry, only_output(250_000), "priority"), 250_000 * 1e-6 + 1000 * 1.5e-6)
    assert close(cost(entry, only_output(250_000)), 250_000 * 1e-6 + 1000 * 2e-6)
    assert close(cost(entry, only_output(250_000), "flex"), 250_000 * 1e-6 + 1000 * 2e-6)


# -- test_tiered_pricing.py ---------------------------------------------------------------------

FREE_READS = {"range": [0, 100_000], "input_cost_per_token": 1e-6, "cache_read_input_token_cost": 0.0}
CACHED = {"prompt_tokens": 10_000, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 10_000}}


def test_tier_honours_an_explicit_zero_cache_rate():
    entry = {"tiered_pricing": [FREE_READS]}
    assert cost(entry, CACHED) == 0.0


def test_tier_honours_an_explicit_zero_in_the_overflow_tier():
    entry = {"tiered_pricing": [FREE_READS]}
    usage = {"prompt_tokens": 150_000, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 150_000}}
    assert cost(entry, usage) == 0.0


def test_tier_falls_back_to_its_input_rate():
    entry = {"tiered_pricing": [{"range": [0, 100_000], "input_cost_per_token": 1e-6}]}
    assert close(cost(entry, CACHED), 10_000 * 1e-6)


# -- Anthropic usage and compaction ----------------------------------------------------------------


def test_anthropic_usage_counts_cache_reads_and_writes_in_the_prompt():
    u = normalize_usage(
        {"input_tokens": 100, "output_tokens": 20, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 50}
    )
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (180, 20, 200)
    assert u["prompt_tokens_details"]["cached_tokens"] == 50 and u["cache_creation_input_tokens"] == 30


def test_compaction_iterations_are_summed_and_billed():
    usage = {
        "input_tokens": 23000,
        "output_tokens": 1000,
        "iterations": [
            {"type": "compaction", "input_tokens": 180000, "output_tokens": 3500},
            {"type": "message", "input_tokens": 23000, "output_tokens": 1000},
        ],
    }
    u = normalize_usage(usage)
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (203000, 4500, 207500)
    opus = {"input_cost_per_token": 5e-6, "output_cost_per_token": 2.5e-5}
    assert close(cost(opus, usage), 1.1275)  # LiteLLM 1.110.2, claude-opus-4-6
    assert close(cost(opus, {"input_tokens": 23000, "output_tokens": 1000}), 0.14)


def test_inference_geo_uplift():
    opus = {"input_cost_per_token": 5e-6, "output_cost_per_token": 2.5e-5, "provider_specific_entry": {"us": 1.1}}
    assert close(cost(opus, {"input_tokens": 1000, "output_tokens": 100, "inference_geo": "us"}), 0.00825)


def test_gemini_tiers_bill_reasoning_at_the_tier_output_rate():
    gemini = {
        "input_cost_per_token": 1.25e-6,
        "output_cost_per_token": 1e-5,
        "input_cost_per_token_priority": 2.25e-6,
        "output_cost_per_token_priority": 1.8e-5,
        "input_cost_per_token_flex": 6.25e-7,
        "output_cost_per_token_flex": 5e-6,
    }
    usage = {"prompt_tokens": 1000, "completion_tokens": 600, "completion_tokens_details": {"reasoning_tokens": 400}}
    # LiteLLM 1.110.2, gemini/gemini-2.5-pro
    assert close(cost(gemini, usage), 0.00725)
    assert close(cost(gemini, usage, "priority"), 0.01305)
    assert close(cost(gemini, usage, "flex"), 0.003625)


# -- Vertex usage metadata ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        # (prompt, completion, total, cached, reasoning) as LiteLLM's Vertex transformation reads them
        (
            {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 125, "thoughtsTokenCount": 5},
            (100, 25, 125, 0, 5),
        ),
        (
            {
                "promptTokenCount": 1000,
                "cachedContentTokenCount": 600,
                "candidatesTokenCount": 50,
                "totalTokenCount": 1050,
            },
            (1000, 50, 1050, 600, 0),
        ),
        (
            {
                "promptTokenCount": 100,
                "toolUsePromptTokenCount": 30,
                "candidatesTokenCount": 10,
                "totalTokenCount": 140,
            },
            (130, 10, 140, 0, 0),
        ),
    ],
)
def test_vertex_usage_metadata(metadata, expected):
    u = normalize_usage(metadata)
    got = (
        u["prompt_tokens"],
        u["completion_tokens"],
        u["total_tokens"],
        u["prompt_tokens_details"]["cached_tokens"],
        u["completion_tokens_details"]["reasoning_tokens"],
    )
    assert got == expected


def test_vertex_claude_usage_without_cache_writes_in_prompt_tokens():
    usage = {
        "total_tokens": 25264,
        "prompt_tokens": 25169,
        "completion_tokens": 95,
        "prompt_tokens_details": {"cached_tokens": 25162},
        "cache_read_input_tokens": 25162,
        "cache_creation_input_tokens": 222,
    }
    sonnet = {
        "input_cost_per_token": 3e-6,
        "output_cost_per_token": 1.5e-5,
        "cache_read_input_token_cost": 3e-7,
        "cache_creation_input_token_cost": 3.75e-6,
    }
    # Difference: LiteLLM 1.110.2 returns 0.0098061, billing no uncached token (it clamps
    # prompt - reads - writes at 0); dejacache reads prompt_tokens as uncached + reads, so the 7
    # uncached tokens cost their input price too.
    assert close(cost(sonnet, usage), 0.0098061 + 7 * 3e-6)
