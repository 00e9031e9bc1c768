"""Refreshes python/dejacache/data/prices.json from LiteLLM's model_prices_and_context_window.json.

    python scripts/update_prices.py PATH/TO/model_prices_and_context_window.json [--date YYYY-MM-DD]
    python scripts/update_prices.py litellm-X.Y.Z-*.whl      # `pip download --no-deps litellm`

A LiteLLM wheel is read in place: its litellm/model_prices_and_context_window_backup.json is the
price file, and the wheel's version goes into the table's "source".

Keeps the OpenAI, Anthropic, DeepSeek and Gemini text and embedding models and only the fields
dejacache prices with; a provider's published minimum cacheable prompt fills in where the
source has none. Review the diff before committing: the figures are the providers' list prices.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import re
import zipfile

OUT = pathlib.Path(__file__).resolve().parents[1] / "python" / "dejacache" / "data" / "prices.json"
FIELDS = (
    "litellm_provider",
    "mode",
    "input_cost_per_token",
    "output_cost_per_token",
    "output_cost_per_reasoning_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "prompt_cache_min_tokens",
    "supports_prompt_caching",
    "max_input_tokens",
    "max_output_tokens",
    "off_peak_pricing",
    "tiered_pricing",
    "provider_specific_entry",
)
# Long-context rates ("_above_200k_tokens") and service-tier rates (one word after the field:
# "_flex", "_priority", "_batches", "_ultrafast", ...), as dejacache's price reader parses them.
TIER = re.compile(
    r"^(input_cost_per_token|output_cost_per_token|output_cost_per_reasoning_token|"
    r"cache_read_input_token_cost|cache_creation_input_token_cost(_above_1hr)?)"
    r"(_above_\d+k?_tokens)?(_[a-z]+)?$"
)
WHEEL_MEMBER = "litellm/model_prices_and_context_window_backup.json"
# Minimum prompt length a provider caches (OpenAI, Anthropic Sonnet/Opus, DeepSeek's 64-token
# units, Gemini implicit caching), used when the source names none.
MIN_CACHEABLE = {"openai": 1024, "anthropic": 1024, "deepseek": 64, "gemini": 1024}
MODES = {"chat", "completion", "responses", "embedding"}
# LiteLLM prices some providers' models under a route prefix ("gemini/..."), which wins over a
# bare key of the same name; the SDKs report the bare name.
PREFIXES = ("gemini/", "deepseek/")


def is_price(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def convert(source: dict) -> dict:
    out: dict[str, dict] = {}
    for key, entry in source.items():
        if not isinstance(entry, dict):
            continue
        provider = entry.get("litellm_provider")
        if provider not in MIN_CACHEABLE or entry.get("mode") not in MODES:
            continue
        if not is_price(entry.get("input_cost_per_token")) or not is_price(entry.get("output_cost_per_token", 0)):
            continue
        name, routed = key, False
        for prefix in PREFIXES:
            if name.startswith(prefix) and prefix == provider + "/":
                name, routed = name[len(prefix) :], True
        if "/" in name or (name in out and not routed):
            continue  # another route, or the provider's own route already won
        kept = {f: entry[f] for f in FIELDS if entry.get(f) is not None}
        kept.update({f: v for f, v in entry.items() if TIER.match(f) and is_price(v)})
        kept.setdefault("output_cost_per_token", 0.0)
        kept["supports_prompt_caching"] = bool(kept.get("supports_prompt_caching", False))
        if kept["supports_prompt_caching"]:
            kept["prompt_cache_min_tokens"] = int(kept.get("prompt_cache_min_tokens", MIN_CACHEABLE[provider]))
        else:
            kept.pop("prompt_cache_min_tokens", None)
        out[name] = kept
    return out


def read_source(path: pathlib.Path) -> tuple[dict, str | None]:
    """The price file and, for a wheel, LiteLLM's version."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            data = json.loads(wheel.read(WHEEL_MEMBER))
        version = path.name.split("-")[1] if path.name.count("-") >= 2 else None
        return data, version
    return json.loads(path.read_text()), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=pathlib.Path, help="LiteLLM's price file, or a litellm wheel")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="the figures' date")
    parser.add_argument(
        "--note", default="public price lists as collected in LiteLLM's model_prices_and_context_window.json"
    )
    args = parser.parse_args()
    source, version = read_source(args.source)
    models = convert(source)
    note = args.note if version is None else f"{args.note} (litellm {version})"
    doc = {"updated": args.date, "source": note, **dict(sorted(models.items()))}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(models)} models written to {OUT}")


if __name__ == "__main__":
    main()
