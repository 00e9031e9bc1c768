"""Cost rules LiteLLM applies that the table format carries: compaction iterations, service tiers
read from the entry, tier reasoning rates, tiered_pricing, regional uplift, Vertex-style usage."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from dejacache import PriceError, completion_cost, load_prices, normalize_usage
from dejacache._cost import cost as _cost


@pytest.fixture(autouse=True)
def fresh_prices():
    _cost._table = None
    yield
    _cost._table = None


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12)


# -- 2. Anthropic usage.iterations (server-side compaction) ------------------------------------

COMPACTED = {
    # The top level describes the last iteration only; both iterations are billed.
    "input_tokens": 23000,
    "output_tokens": 1000,
    "cache_read_input_tokens": 0,
    "cache_creation_input_tokens": 0,
    "iterations": [
        {"type": "compaction", "input_tokens": 180000, "output_tokens": 3500},
        {"type": "message", "input_tokens": 23000, "output_tokens": 1000},
    ],
}


def test_compaction_iterations_are_summed():
    u = normalize_usage(COMPACTED)
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (203000, 4500, 207500)
    load_prices({"iter-model": {"input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5}})
    cost = completion_cost(COMPACTED, model="iter-model")
    assert close(cost, 203000 * 3e-6 + 4500 * 1.5e-5)
    top_level_only = 23000 * 3e-6 + 1000 * 1.5e-5
    assert cost > 8 * top_level_only


def test_iterations_carry_cache_reads_writes_and_their_split():
    usage = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
        "iterations": [
            {
                "input_tokens": 50,
                "output_tokens": 40,
                "cache_read_input_tokens": 300,
                "cache_creation_input_tokens": 200,
                "cache_creation": {"ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 50},
            },
            {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20},
        ],
    }
    u = normalize_usage(usage)
    assert u["prompt_tokens"] == 50 + 300 + 200 + 10 + 100 + 20
    assert u["prompt_tokens_details"]["cached_tokens"] == 400
    assert u["cache_creation_input_tokens"] == 220
    # An iteration without a breakdown wrote for 5 minutes.
    assert u["cache_creation"] == {"ephemeral_5m_input_tokens": 170, "ephemeral_1h_input_tokens": 50}
    assert u["completion_tokens"] == 45


def test_iterations_as_sdk_objects_and_bad_iterations():
    usage = SimpleNamespace(
        input_tokens=1,
        output_tokens=1,
        cache_read_input_tokens=0,
        cache_creation_input_tokens=0,
        iterations=[SimpleNamespace(input_tokens=7, output_tokens=3), SimpleNamespace(input_tokens=1, output_tokens=1)],
    )
    assert normalize_usage(usage)["prompt_tokens"] == 8
    with pytest.raises(ValueError, match="iterations"):
        normalize_usage({**COMPACTED, "iterations": "lots"})
    with pytest.raises(ValueError, match=r"iterations\[1\]\.output_tokens"):
        normalize_usage({**COMPACTED, "iterations": [{"input_tokens": 1}, {"output_tokens": -2}]})


# -- 3. and 5. service tiers -------------------------------------------------------------------

GEMINI_LIKE = {
    "input_cost_per_token": 1e-6,
    "output_cost_per_token": 8e-6,
    "output_cost_per_reasoning_token": 9e-6,
    "input_cost_per_token_priority": 2e-6,
    "output_cost_per_token_priority": 1.6e-5,
    "input_cost_per_token_flex": 5e-7,
    "output_cost_per_token_flex": 4e-6,
    "input_cost_per_token_ultrafast": 6e-6,
    "output_cost_per_token_ultrafast": 4.8e-5,
    "cache_read_input_token_cost_ultrafast": 6e-7,
}
THINKING = {
    "prompt_tokens": 1000,
    "completion_tokens": 600,
    "completion_tokens_details": {"reasoning_tokens": 400},
    "prompt_tokens_details": {"cached_tokens": 200},
}


@pytest.mark.parametrize(("tier", "inp", "out"), [("priority", 2e-6, 1.6e-5), ("flex", 5e-7, 4e-6)])
def test_a_tier_without_a_reasoning_rate_bills_reasoning_at_its_output_rate(tier, inp, out):
    load_prices({"gem-tiers": GEMINI_LIKE})
    cost = completion_cost({"model": "gem-tiers", "usage": THINKING, "service_tier": tier})
    assert close(cost, 1000 * inp + 600 * out)  # no cache price: reads at the tier's input rate
    standard = completion_cost({"model": "gem-tiers", "usage": THINKING})
    assert close(standard, 1000 * 1e-6 + 200 * 8e-6 + 400 * 9e-6)


def test_a_tier_with_its_own_reasoning_rate_keeps_it():
    load_prices({"gem-tiers": {**GEMINI_LIKE, "output_cost_per_reasoning_token_priority": 2e-5}})
    cost = completion_cost({"model": "gem-tiers", "usage": THINKING, "service_tier": "priority"})
    assert close(cost, 1000 * 2e-6 + 200 * 1.6e-5 + 400 * 2e-5)


def test_tiers_are_read_from_the_entry():
    load_prices({"gem-tiers": GEMINI_LIKE})
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "prompt_tokens_details": {"cached_tokens": 500}}
    cost = completion_cost({"model": "gem-tiers", "usage": usage, "service_tier": "ultrafast"})
    assert close(cost, 500 * 6e-6 + 500 * 6e-7 + 100 * 4.8e-5)
    load_prices({"gem-tiers": {"input_cost_per_token_turbo": 3e-6}})  # a tier this version never heard of
    turbo = completion_cost({"model": "gem-tiers", "usage": usage, "service_tier": "Turbo"})
    assert close(turbo, 1000 * 3e-6 + 100 * 8e-6)
    unknown = completion_cost({"model": "gem-tiers", "usage": usage, "service_tier": "scale"})
    assert close(unknown, completion_cost({"model": "gem-tiers", "usage": usage}))
    with pytest.raises(PriceError, match="_ultrafast"):
        load_prices({"gem-tiers": {"output_cost_per_token_ultrafast": "free"}})


# -- 4. tiered_pricing ---------------------------------------------------------------------------

QWEN_LIKE = {
    "litellm_provider": "dashscope",
    "mode": "chat",
    "tiered_pricing": [
        {"input_cost_per_token": 5e-8, "output_cost_per_token": 4e-7, "range": [0, 256000.0]},
        {"input_cost_per_token": 2.5e-7, "output_cost_per_token": 2e-6, "range": [256000.0, 1000000.0]},
    ],
}


def test_a_model_priced_only_by_tiers_is_priced():
    load_prices({"qwen-like": QWEN_LIKE})
    small = {"prompt_tokens": 1000, "completion_tokens": 100}
    assert close(completion_cost(small, model="qwen-like"), 1000 * 5e-8 + 100 * 4e-7)
    edge = {"prompt_tokens": 256000, "completion_tokens": 100}  # a range's end stays in that tier
    assert close(completion_cost(edge, model="qwen-like"), 256000 * 5e-8 + 100 * 4e-7)
    large = {"prompt_tokens": 300000, "completion_tokens": 100}  # every token at the higher tier
    assert close(completion_cost(large, model="qwen-like"), 300000 * 2.5e-7 + 100 * 2e-6)
    beyond = {"prompt_tokens": 2000000, "completion_tokens": 1}  # past the last range: the last tier
    assert close(completion_cost(beyond, model="qwen-like"), 2000000 * 2.5e-7 + 2e-6)


def test_tiered_pricing_wins_over_flat_rates_and_fills_cache_rates():
    load_prices(
        {
            "tiered-flat": {
                "input_cost_per_token": 9e-6,
                "output_cost_per_token": 9e-5,
                "tiered_pricing": [
                    {"range": [0, 1000], "input_cost_per_token": 1e-6, "cache_read_input_token_cost": 1e-7},
                    {"range": [1000, 5000], "input_cost_per_token": 2e-6, "output_cost_per_token": 3e-6},
                    {"max_results_range": [0, 10], "input_cost_per_query": 0.005},  # not a token tier: skipped
                ],
            }
        }
    )
    usage = {"prompt_tokens": 800, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 300}}
    # The first tier names no output rate: the model's own stands in.
    assert close(completion_cost(usage, model="tiered-flat"), 500 * 1e-6 + 300 * 1e-7 + 10 * 9e-5)
    usage = {"prompt_tokens": 2000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 300}}
    # No cache-read rate in the tier: the tier's input rate.
    assert close(completion_cost(usage, model="tiered-flat"), 2000 * 2e-6 + 10 * 3e-6)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("cheap", "must be a list"),
        (["cheap"], "must be an object"),
        ([{"range": [10, 5], "input_cost_per_token": 1e-6}], "0 <= start < end"),
        ([{"range": [0], "input_cost_per_token": 1e-6}], "[start, end]"),
        ([{"range": [0, 5], "input_cost_per_token": -1.0}], "input_cost_per_token"),
    ],
)
def test_bad_tiered_pricing_is_refused(table, words):
    with pytest.raises(PriceError, match=None) as info:
        load_prices({"bad-tiers": {"tiered_pricing": table}})
    assert words in str(info.value)


# -- 6. regional uplift ------------------------------------------------------------------------


def test_inference_geo_uplift():
    load_prices(
        {
            "geo-claude": {
                "input_cost_per_token": 5e-6,
                "output_cost_per_token": 2.5e-5,
                "cache_read_input_token_cost": 5e-7,
                "provider_specific_entry": {"us": 1.1, "fast": 2.0},
            }
        }
    )
    usage = {
        "input_tokens": 1000,
        "output_tokens": 100,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 0,
    }
    base = 1000 * 5e-6 + 2000 * 5e-7 + 100 * 2.5e-5
    assert close(completion_cost(usage, model="geo-claude"), base)
    assert close(completion_cost({**usage, "inference_geo": "global"}, model="geo-claude"), base)
    assert close(completion_cost({**usage, "inference_geo": "US"}, model="geo-claude"), base * 1.1)
    assert close(completion_cost({**usage, "inference_geo": "eu"}, model="geo-claude"), base)
    assert close(completion_cost({**usage, "inference_geo": "us", "speed": "fast"}, model="geo-claude"), base * 2.2)
    meta = _cost.call_meta({"model": "geo-claude", "usage": {**usage, "inference_geo": "us"}})
    assert close(meta["cost_usd"], base * 1.1)
    with pytest.raises(PriceError, match="provider_specific_entry"):
        load_prices({"geo-claude": {"provider_specific_entry": {"us": -1}}})


# -- 7. Vertex usage as LiteLLM emits it ---------------------------------------------------------


def test_prompt_tokens_without_the_cache_writes():
    # Claude on Vertex through LiteLLM: prompt_tokens = uncached 7 + cache reads 25162; the 222
    # written are beside it (cached + written > prompt_tokens).
    usage = {
        "total_tokens": 25264,
        "prompt_tokens": 25169,
        "completion_tokens": 95,
        "prompt_tokens_details": {"cached_tokens": 25162},
        "cache_read_input_tokens": 25162,
        "cache_creation_input_tokens": 222,
    }
    u = normalize_usage(usage)
    assert (u["prompt_tokens"], u["prompt_tokens_details"]["cached_tokens"], u["cache_creation_input_tokens"]) == (
        25391,
        25162,
        222,
    )
    load_prices(
        {
            "vertex-claude": {
                "input_cost_per_token": 3e-6,
                "output_cost_per_token": 1.5e-5,
                "cache_read_input_token_cost": 3e-7,
                "cache_creation_input_token_cost": 3.75e-6,
            }
        }
    )
    assert close(completion_cost(usage, model="vertex-claude"), 7 * 3e-6 + 25162 * 3e-7 + 222 * 3.75e-6 + 95 * 1.5e-5)
    with pytest.raises(ValueError, match="prompt_tokens must include"):
        normalize_usage(
            {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}, "cache_creation_input_tokens": 5}
        )
