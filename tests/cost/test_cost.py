"""completion_cost, the price table, load_prices, model_info and call_meta."""

import datetime
import json
import math
import pathlib
import subprocess
import sys

import dejacache
import pytest
from dejacache import UnknownModelError, completion_cost, load_prices, model_info, supports_prompt_caching
from dejacache._cost import cost as _cost
from hypothesis import given, settings
from hypothesis import strategies as st

GPT4O_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 100,
    "total_tokens": 1300,
    "prompt_tokens_details": {"cached_tokens": 1000},
}
DEEPSEEK_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 100,
    "total_tokens": 1300,
    "prompt_cache_hit_tokens": 1000,
    "prompt_cache_miss_tokens": 200,
}
SONNET_USAGE = {
    "input_tokens": 200,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 3000,
    "cache_creation": {"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 600},
    "output_tokens": 100,
}


@pytest.fixture(autouse=True)
def fresh_prices():
    """Each test starts from the packaged table; load_prices in one test never leaks."""
    _cost._table = None
    yield
    _cost._table = None


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


# -- golden cases ------------------------------------------------------------------------------


def test_golden_gpt4o():
    assert close(completion_cost(GPT4O_USAGE, model="gpt-4o"), 0.00275)
    assert close(completion_cost({"model": "gpt-4o", "usage": GPT4O_USAGE}), 0.00275)


def test_golden_deepseek():
    assert close(completion_cost(DEEPSEEK_USAGE, model="deepseek-chat"), 0.000126)
    assert close(completion_cost({"model": "deepseek-chat", "usage": DEEPSEEK_USAGE}), 0.000126)


def test_golden_claude_sonnet_4_5():
    info = model_info("claude-sonnet-4-5")
    assert (
        info["input_cost_per_token"],
        info["output_cost_per_token"],
        info["cache_read_input_token_cost"],
        info["cache_creation_input_token_cost"],
        info["cache_creation_input_token_cost_above_1hr"],
    ) == (3e-6, 1.5e-5, 3e-7, 3.75e-6, 6e-6)
    assert close(completion_cost(SONNET_USAGE, model="claude-sonnet-4-5"), 0.0081)


def test_golden_cases_through_sdk_objects():
    from .test_usage import anthropic_message, openai_chat_completion, openai_response

    pytest.importorskip("openai")
    pytest.importorskip("anthropic")
    assert close(completion_cost(openai_chat_completion(GPT4O_USAGE)), 0.00275)
    assert close(completion_cost(openai_chat_completion(DEEPSEEK_USAGE, model="deepseek-chat")), 0.000126)
    resp = openai_response(
        {
            "input_tokens": 1200,
            "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 0},
            "output_tokens": 100,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 1300,
        }
    )
    assert close(completion_cost(resp), 0.00275)
    assert close(completion_cost(anthropic_message(SONNET_USAGE)), 0.0081)
    # An SDK object marked as a dejacache hit (pydantic keeps the extra attribute) cost nothing.
    hit = anthropic_message(SONNET_USAGE)
    hit.cache = True
    assert completion_cost(hit) == 0.0
    assert close(dejacache.call_meta(hit)["cost_usd"], 0.0081)  # what the original call cost


def test_gemini_and_bedrock_responses():
    load_prices({"bedrock-sonnet": model_info("claude-sonnet-4-5")})
    bedrock = {
        "usage": {"inputTokens": 200, "cacheReadInputTokens": 3000, "cacheWriteInputTokens": 1000, "outputTokens": 100}
    }
    # Bedrock reports no 5 m / 1 h split: every write is charged at the 5-minute rate.
    expected = 200 * 3e-6 + 3000 * 3e-7 + 1000 * 3.75e-6 + 100 * 1.5e-5
    assert close(completion_cost(bedrock, model="bedrock-sonnet"), expected)
    gemini = {
        "modelVersion": "gemini-2.5-flash",
        "usageMetadata": {
            "promptTokenCount": 1200,
            "cachedContentTokenCount": 1000,
            "candidatesTokenCount": 60,
            "thoughtsTokenCount": 40,
        },
    }
    p = model_info("gemini-2.5-flash")
    expected = (
        200 * p["input_cost_per_token"]
        + 1000 * p["cache_read_input_token_cost"]
        + 60 * p["output_cost_per_token"]
        + 40 * p["output_cost_per_reasoning_token"]
    )
    assert close(completion_cost(gemini), expected)


# -- prices: fallbacks, reasoning, aliases -----------------------------------------------------


def test_missing_cache_prices_fall_back_to_input_price():
    load_prices({"plain": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}})
    usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 20,
        "cache_creation_input_tokens": 30,
        "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
        "output_tokens": 5,
    }
    assert close(completion_cost(usage, model="plain"), 60 * 1e-6 + 5 * 2e-6)


def test_reasoning_price_when_the_model_has_one():
    load_prices(
        {
            "thinker": {
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 2e-6,
                "output_cost_per_reasoning_token": 5e-6,
            }
        }
    )
    usage = {"prompt_tokens": 10, "completion_tokens": 100, "completion_tokens_details": {"reasoning_tokens": 60}}
    assert close(completion_cost(usage, model="thinker"), 10e-6 + 40 * 2e-6 + 60 * 5e-6)


@pytest.mark.parametrize(
    ("alias", "key"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-2099-01-01", "gpt-4o"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20991231", "claude-haiku-4-5"),
        ("vertex_ai/claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("deepseek/deepseek-chat", "deepseek-chat"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini-2.5-flash-001", "gemini-2.5-flash"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "ft:gpt-4o-mini-2024-07-18"),
    ],
)
def test_alias_resolution(alias, key):
    assert model_info(alias)["key"] == key


def test_dated_snapshot_costs_like_its_base_model():
    assert close(completion_cost(GPT4O_USAGE, model="gpt-4o-2099-01-01"), 0.00275)
    assert close(completion_cost(SONNET_USAGE, model="anthropic/claude-sonnet-4-5"), 0.0081)


def test_unknown_model_error_says_how_to_add_prices():
    with pytest.raises(UnknownModelError) as info:
        completion_cost(GPT4O_USAGE, model="my-private-llm")
    assert isinstance(info.value, ValueError) and isinstance(info.value, KeyError)
    assert "load_prices" in str(info.value) and "my-private-llm" in str(info.value)
    assert not str(info.value).startswith('"')  # a readable message, not KeyError's repr
    with pytest.raises(UnknownModelError, match="names no model"):
        completion_cost(GPT4O_USAGE)
    with pytest.raises(UnknownModelError):
        completion_cost(GPT4O_USAGE, model=["gpt-4o"])
    assert supports_prompt_caching("my-private-llm") is False


def test_supports_prompt_caching_and_minimum():
    assert supports_prompt_caching("gpt-4o") is True
    assert supports_prompt_caching("anthropic/claude-sonnet-4-5") is True
    assert supports_prompt_caching("deepseek-chat") is True
    assert supports_prompt_caching("text-embedding-3-small") is False
    assert model_info("gpt-4o")["prompt_cache_min_tokens"] == 1024
    assert model_info("claude-haiku-4-5")["prompt_cache_min_tokens"] == 4096


def test_packaged_table_is_dated_and_covers_four_providers():
    path = pathlib.Path(dejacache.__file__).parent / "data" / "prices.json"
    data = json.loads(path.read_text())
    assert len(data["updated"]) == 10 and data["updated"][4] == "-"
    providers = {e["litellm_provider"] for e in data.values() if isinstance(e, dict)}
    assert {"openai", "anthropic", "deepseek", "gemini"} <= providers
    assert _cost.price_table().updated == data["updated"]


def test_a_dejacache_hit_cost_nothing():
    assert completion_cost({"model": "gpt-4o", "usage": GPT4O_USAGE, "cache": True}) == 0.0


def test_importing_reads_no_price_file():
    code = "import dejacache, dejacache._cost.cost as c; print(c._table is None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


# -- load_prices -------------------------------------------------------------------------------


def test_override_merges_field_by_field():
    load_prices({"gpt-4o": {"output_cost_per_token": 2e-5}})
    info = model_info("gpt-4o")
    assert info["output_cost_per_token"] == 2e-5 and info["input_cost_per_token"] == 2.5e-6
    assert close(completion_cost(GPT4O_USAGE, model="gpt-4o"), 0.00275 + 100 * 1e-5)
    assert model_info("deepseek-chat")  # other models stay


def test_replace_drops_the_packaged_table(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps({"updated": "2030-01-01", "mine": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}})
    )
    assert load_prices(path, merge=False) == 1
    assert _cost.price_table().updated == "2030-01-01"
    assert completion_cost({"prompt_tokens": 1, "completion_tokens": 1}, model="mine") == 2e-6
    with pytest.raises(UnknownModelError):
        model_info("gpt-4o")


def test_override_after_a_cost_was_memoised():
    assert close(completion_cost(GPT4O_USAGE, model="gpt-4o"), 0.00275)
    load_prices({"gpt-4o": {"input_cost_per_token": 0.0, "cache_read_input_token_cost": 0.0}})
    assert close(completion_cost(GPT4O_USAGE, model="gpt-4o"), 100 * 1e-5)


LITELLM_EXCERPT = {
    "sample_spec": {
        "input_cost_per_token": 0.0,
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
        "max_tokens": "LEGACY parameter",
    },
    "openrouter/anthropic/claude-x": {
        "input_cost_per_token": 1e-6,
        "output_cost_per_token": 5e-6,
        "cache_read_input_token_cost": 1e-7,
        "litellm_provider": "openrouter",
        "mode": "chat",
        "supports_prompt_caching": True,
    },
    "dall-e-3": {"litellm_provider": "openai", "mode": "image_generation", "output_cost_per_image": 0.04},
}


def test_litellm_format_excerpt():
    assert load_prices(LITELLM_EXCERPT) == 2
    assert supports_prompt_caching("openrouter/anthropic/claude-x")
    u = {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 50}}
    assert close(completion_cost(u, model="openrouter/anthropic/claude-x"), 50e-6 + 50e-7 + 50e-6)
    with pytest.raises(dejacache.PriceError, match="no per-token price"):
        completion_cost(u, model="dall-e-3")


def test_litellm_own_file_loads_and_agrees_on_goldens():
    litellm_dir = pytest.importorskip("importlib.util").find_spec("litellm")
    if litellm_dir is None:
        pytest.skip("litellm not installed")
    path = pathlib.Path(litellm_dir.submodule_search_locations[0]) / "model_prices_and_context_window_backup.json"
    assert load_prices(path, merge=False) > 1000
    assert close(completion_cost(GPT4O_USAGE, model="gpt-4o"), 0.00275)
    assert close(completion_cost(DEEPSEEK_USAGE, model="deepseek/deepseek-chat"), 0.000126)
    assert close(completion_cost(SONNET_USAGE, model="claude-sonnet-4-5"), 0.0081)


@pytest.mark.parametrize(
    ("prices", "words"),
    [
        ({"m": {"input_cost_per_token": "0.1"}}, "input_cost_per_token must be a number"),
        ({"m": {"input_cost_per_token": -1e-6}}, "must be a number >= 0"),
        ({"m": {"output_cost_per_token": float("inf")}}, "must be a number >= 0"),
        ({"m": {"cache_read_input_token_cost": True}}, "must be a number"),
        ({"m": {"supports_prompt_caching": "yes"}}, "true or false"),
        ({"m": {"prompt_cache_min_tokens": -5}}, "whole number"),
        ({"m": ["not", "an", "object"]}, None),
    ],
)
def test_bad_prices_are_refused(prices, words):
    if words is None:
        assert load_prices(prices) == 0  # non-object values are metadata, like "updated"
        return
    with pytest.raises(dejacache.PriceError, match=words):
        load_prices(prices)
    assert close(completion_cost(GPT4O_USAGE, model="gpt-4o"), 0.00275)  # nothing half-loaded


def test_bad_price_sources(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(dejacache.PriceError, match="not valid JSON"):
        load_prices(bad)
    with pytest.raises(TypeError):
        load_prices(42)
    with pytest.raises(FileNotFoundError):
        load_prices(tmp_path / "missing.json")


# -- call_meta and savings ---------------------------------------------------------------------


def test_call_meta():
    meta = dejacache.call_meta({"model": "gpt-4o", "usage": GPT4O_USAGE}, latency_s=0.5)
    assert meta["latency_s"] == 0.5 and meta["tokens"] == 1300 and close(meta["cost_usd"], 0.00275)


def test_call_meta_never_fails_the_call():
    assert dejacache.call_meta({"model": "unheard-of", "usage": GPT4O_USAGE}, latency_s=1) == {
        "latency_s": 1.0,
        "tokens": 1300,
    }
    assert dejacache.call_meta({"model": "gpt-4o", "usage": {"prompt_tokens": "x"}}) == {}
    assert dejacache.call_meta({"model": "gpt-4o"}, latency_s=2.0) == {"latency_s": 2.0}
    assert dejacache.call_meta(object()) == {}
    assert dejacache.call_meta({"model": "dall-e-3", "usage": GPT4O_USAGE}) == {"tokens": 1300}


def test_savings_add_up_in_cache_stats():
    cache = dejacache.Cache()
    req = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    response = {"model": "gpt-4o", "usage": GPT4O_USAGE}
    cache.put(req, response, meta=dejacache.call_meta(response, latency_s=0.25))
    for _ in range(3):
        assert cache.get(req) is not None
    stats = cache.stats()
    assert stats["tokens_saved"] == 3 * 1300
    assert close(stats["cost_saved_usd"], 3 * 0.00275)
    assert close(stats["latency_saved_s"], 0.75)


# -- properties --------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=2_000_000)
price = st.one_of(st.none(), st.floats(min_value=0, max_value=1e-3, allow_nan=False))


@st.composite
def usages(draw):
    uncached, cached, w5, w1 = draw(counts), draw(counts), draw(counts), draw(counts)
    reasoning = draw(counts)
    completion = reasoning + draw(counts)
    return {
        "input_tokens": uncached,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": w5 + w1,
        "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1},
        "output_tokens": completion,
        "output_tokens_details": {"thinking_tokens": reasoning},
    }


@st.composite
def entries(draw):
    entry = {
        "input_cost_per_token": draw(st.floats(min_value=0, max_value=1e-3)),
        "output_cost_per_token": draw(st.floats(min_value=0, max_value=1e-3)),
    }
    for field in (
        "cache_read_input_token_cost",
        "cache_creation_input_token_cost",
        "cache_creation_input_token_cost_above_1hr",
        "output_cost_per_reasoning_token",
    ):
        value = draw(price)
        if value is not None:
            entry[field] = value
    return entry


def parts(usage, entry):
    inp = entry["input_cost_per_token"]
    get = lambda f, d: entry.get(f, d)  # noqa: E731
    split = usage["cache_creation"]
    return [
        usage["input_tokens"] * inp,
        usage["cache_read_input_tokens"] * get("cache_read_input_token_cost", inp),
        split["ephemeral_5m_input_tokens"] * get("cache_creation_input_token_cost", inp),
        split["ephemeral_1h_input_tokens"] * get("cache_creation_input_token_cost_above_1hr", inp),
        (usage["output_tokens"] - usage["output_tokens_details"]["thinking_tokens"]) * entry["output_cost_per_token"],
        usage["output_tokens_details"]["thinking_tokens"]
        * get("output_cost_per_reasoning_token", entry["output_cost_per_token"]),
    ]


@settings(max_examples=300, deadline=None)
@given(usages(), entries())
def test_cost_is_the_sum_of_its_parts(usage, entry):
    table = _cost.PriceTable()
    table.load({"m": entry}, merge=False)
    cost = _cost.cost_of_counts(dejacache._cost.usage.read_counts(usage), table.prices("m"))
    assert math.isclose(cost, math.fsum(parts(usage, entry)), rel_tol=1e-9, abs_tol=1e-15)


FIELDS = [
    ("input_tokens",),
    ("cache_read_input_tokens",),
    ("cache_creation", "ephemeral_5m_input_tokens"),
    ("cache_creation", "ephemeral_1h_input_tokens"),
    ("output_tokens",),
    ("output_tokens_details", "thinking_tokens"),
]


@settings(max_examples=300, deadline=None)
@given(usages(), entries(), st.sampled_from(FIELDS), st.integers(min_value=1, max_value=100_000))
def test_cost_is_monotone_in_each_count(usage, entry, field, extra):
    table = _cost.PriceTable()
    table.load({"m": entry}, merge=False)

    def cost(u):
        return _cost.cost_of_counts(dejacache._cost.usage.read_counts(u), table.prices("m"))

    more = json.loads(json.dumps(usage))
    target = more
    for name in field[:-1]:
        target = target[name]
    target[field[-1]] += extra
    if field[0] == "cache_creation":
        more["cache_creation_input_tokens"] += extra
    if field[0] == "output_tokens_details":
        more["output_tokens"] += extra  # thinking tokens are part of the output
    assert cost(more) >= cost(usage) * (1 - 1e-12)


# -- long-context tiers and agreement with LiteLLM ---------------------------------------------


def test_long_prompt_tier():
    load_prices(
        {
            "long": {
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 2e-6,
                "cache_read_input_token_cost": 1e-7,
                "input_cost_per_token_above_200k_tokens": 3e-6,
                "output_cost_per_token_above_200k_tokens": 4e-6,
                "input_cost_per_token_above_500k_tokens": 5e-6,
            }
        }
    )
    short = {"prompt_tokens": 200_000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 0}}
    assert close(completion_cost(short, model="long"), 200_000 * 1e-6 + 10 * 2e-6)  # "above", not "from"
    mid = {"prompt_tokens": 300_000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 100_000}}
    assert close(completion_cost(mid, model="long"), 200_000 * 3e-6 + 100_000 * 1e-7 + 10 * 4e-6)
    big = {"prompt_tokens": 600_000, "completion_tokens": 10}
    # Each rate keeps the highest threshold that names it: output stays at its "above 200k" rate.
    assert close(completion_cost(big, model="long"), 600_000 * 5e-6 + 10 * 4e-6)
    with pytest.raises(dejacache.PriceError, match="above_200k_tokens"):
        load_prices({"long": {"input_cost_per_token_above_200k_tokens": "cheap"}})


def test_agrees_with_litellm_on_every_packaged_chat_model(monkeypatch):
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # its bundled prices, no network
    litellm = pytest.importorskip("litellm")
    pinned_billing_time = pytest.importorskip("litellm._internal_context").pinned_billing_time
    path = pathlib.Path(dejacache.__file__).parent / "data" / "prices.json"
    data = json.loads(path.read_text())
    # A Monday at 08:00 UTC (DeepSeek peak hours) and at 12:00 UTC (its off-peak hours).
    moments = [datetime.datetime(2026, 11, 23, hour, tzinfo=datetime.timezone.utc) for hour in (8, 12)]
    compared = 0
    for name, entry in data.items():
        if not isinstance(entry, dict) or entry.get("mode") != "chat":
            continue
        provider = entry["litellm_provider"]
        routed = name if provider in ("openai", "anthropic") else f"{provider}/{name}"
        if routed not in litellm.model_cost:
            continue
        for prompt, cached, out in ((1200, 1000, 100), (300_000, 100_000, 500)):
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": out,
                "total_tokens": prompt + out,
                "prompt_tokens_details": {"cached_tokens": cached},
            }
            for tier in (None, "priority", "flex"):
                for moment in moments:
                    response = litellm.ModelResponse(model=routed, usage=litellm.Usage(**usage), choices=[])
                    if tier is not None:
                        response.service_tier = tier
                    with pinned_billing_time(moment):
                        theirs = litellm.completion_cost(
                            completion_response=response, model=routed, custom_llm_provider=provider
                        )
                    ours = completion_cost({"model": name, "usage": usage, "service_tier": tier}, at=moment.timestamp())
                    assert math.isclose(ours, theirs, rel_tol=1e-9), (name, prompt, tier, moment)
                    compared += 1
    assert compared > 1200


def test_service_tier_prices():
    standard = completion_cost({"model": "gpt-4o", "usage": GPT4O_USAGE})
    priority = completion_cost({"model": "gpt-4o", "usage": GPT4O_USAGE, "service_tier": "priority"})
    p = model_info("gpt-4o")
    assert close(
        priority,
        200 * p["input_cost_per_token_priority"]
        + 1000 * p["cache_read_input_token_cost_priority"]
        + 100 * p["output_cost_per_token_priority"],
    )
    assert priority > standard
    for same in ("default", "auto", "scale", None, 3):
        assert close(completion_cost({"model": "gpt-4o", "usage": GPT4O_USAGE, "service_tier": same}), standard)
    load_prices(
        {"tiered": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "input_cost_per_token_batches": 5e-7}}
    )
    batch = {**SONNET_USAGE, "service_tier": "batch"}  # Anthropic says it in the usage
    # No cache price anywhere: reads and writes cost the input price of the tier served.
    assert close(completion_cost(batch, model="tiered"), 4200 * 5e-7 + 100 * 2e-6)
    assert close(completion_cost(SONNET_USAGE, model="tiered"), 4200 * 1e-6 + 100 * 2e-6)
    assert (
        dejacache.call_meta({"model": "gpt-4o", "usage": GPT4O_USAGE, "service_tier": "priority"})["cost_usd"]
        == priority
    )
    with pytest.raises(dejacache.PriceError, match="_priority"):
        load_prices({"tiered": {"output_cost_per_token_priority": -1}})


def test_embedding_response_through_the_openai_sdk():
    openai_types = pytest.importorskip("openai.types")
    response = openai_types.CreateEmbeddingResponse.model_validate(
        {
            "object": "list",
            "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
        }
    )
    assert close(completion_cost(response), 8 * model_info("text-embedding-3-small")["input_cost_per_token"])
    assert dejacache.call_meta(response)["tokens"] == 8


def at(day, hour, minute=0):
    """Unix seconds of 2026-11-<day> hour:minute UTC (the 23rd is a Monday)."""
    return datetime.datetime(2026, 11, day, hour, minute, tzinfo=datetime.timezone.utc).timestamp()


def test_off_peak_windows():
    load_prices(
        {
            "night": {
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 2e-6,
                "cache_read_input_token_cost": 1e-7,
                "input_cost_per_token_above_1k_tokens": 9e-6,
                "off_peak_pricing": {
                    "input_cost_per_token": 5e-7,
                    "output_cost_per_token": 1e-6,
                    "hours_utc": "22:30-02:00",
                    "windows": [{"hours_utc": ["12:00-13:00"], "weekdays": ["sat", 7]}],
                },
            }
        }
    )
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 50}}
    peak = 50 * 1e-6 + 50 * 1e-7 + 10 * 2e-6
    night = 50 * 5e-7 + 50 * 1e-7 + 10 * 1e-6  # no off-peak read price: the standard one
    for when, expected in [
        (at(23, 22, 29), peak),
        (at(23, 22, 30), night),
        (at(24, 1, 59), night),
        (at(24, 2, 0), peak),
        (at(23, 12, 30), peak),
        (at(28, 12, 30), night),
        (at(29, 12, 59), night),
        (at(29, 13, 0), peak),
    ]:
        assert close(completion_cost(usage, model="night", at=when), expected), when
    # The response's own creation time decides when no time is given.
    assert close(completion_cost({"model": "night", "usage": usage, "created": int(at(23, 23))}), night)
    assert close(completion_cost({"model": "night", "usage": usage, "created": int(at(23, 9))}), peak)
    # Off-peak rates hold for the whole request, even past a long-context threshold.
    long = {"prompt_tokens": 2000, "completion_tokens": 0}
    assert close(completion_cost(long, model="night", at=at(23, 23)), 2000 * 5e-7)
    assert close(completion_cost(long, model="night", at=at(23, 9)), 2000 * 9e-6)


def test_off_peak_all_day_and_weekday_calendar():
    load_prices(
        {
            "weekend": {
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 1e-6,
                "off_peak_pricing": {
                    "input_cost_per_token": 0.0,
                    "weekday_timezone": "Asia/Shanghai",
                    "windows": [{"hours_utc": "00:00-00:00", "weekdays": [6, 7]}],
                },
            }
        }
    )
    usage = {"prompt_tokens": 100, "completion_tokens": 0}
    # Friday 17:00 UTC is already Saturday in Shanghai.
    assert completion_cost(usage, model="weekend", at=at(27, 17)) == 0.0
    assert close(completion_cost(usage, model="weekend", at=at(27, 15)), 100e-6)


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ({"hours_utc": "25:00-01:00"}, "HH:MM-HH:MM"),
        ({"hours_utc": ["9-17"]}, "HH:MM-HH:MM"),
        ({"windows": [{"hours_utc": "01:00-02:00", "weekdays": ["someday"]}]}, "weekday"),
        ({"windows": ["01:00-02:00"]}, "must be an object"),
        ({"weekday_timezone": "Mars/Olympus", "hours_utc": "01:00-02:00"}, "time zone"),
        ({"input_cost_per_token": -1, "hours_utc": "01:00-02:00"}, "off_peak_pricing.input_cost_per_token"),
        ("nights", "must be an object"),
    ],
)
def test_bad_off_peak_blocks(block, words):
    with pytest.raises(dejacache.PriceError, match=words):
        load_prices({"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6, "off_peak_pricing": block}})


def test_docstring_examples_hold():
    import doctest

    from dejacache._cost import usage as _usage
    from dejacache._sdk import cache_control as _cache_control

    for module in (_cost, _usage, _cache_control):
        assert doctest.testmod(module).failed == 0, module.__name__
