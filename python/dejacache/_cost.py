"""What an LLM call cost, from its usage and a dated price table with prompt-caching prices.

The table uses the field names of LiteLLM's ``model_prices_and_context_window.json``, so that file
(or any part of it, or a user's own overrides) loads as is with ``load_prices``. The packaged table
(``data/prices.json``) is read on first use, never at import.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from importlib import resources
from typing import Any, Mapping, NamedTuple

import orjson

from ._usage import Counts, UsageError, fields, read_counts

log = logging.getLogger("dejacache")

_PRICE_FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "output_cost_per_reasoning_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
)
_TIERED = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
)
# Long-context prices, e.g. "input_cost_per_token_above_200k_tokens": the rate once the prompt
# (cached part included) is longer than the threshold.
_TIER_FIELD = re.compile(r"^(%s)_above_(\d+)(k?)_tokens$" % "|".join(_TIERED))
# Service tiers: "input_cost_per_token_priority" etc. A response's ``service_tier`` (OpenAI) or its
# usage's (Anthropic) picks them. A rate the tier lacks is the model's standard rate; a cache price
# that neither names falls back to the tier's input price.
_SERVICE_SUFFIXES = ("_flex", "_priority", "_batches")
_SERVICE_OF = {"flex": "_flex", "priority": "_priority", "fast": "_priority", "batch": "_batches"}
_PRICE_KEY = re.compile(r"^(%s)(_above_\d+k?_tokens)?(%s)?$" % (
    "|".join(_PRICE_FIELDS), "|".join(_SERVICE_SUFFIXES)))
_COUNT_FIELDS = ("prompt_cache_min_tokens", "max_input_tokens", "max_output_tokens", "max_tokens")
# Entries of LiteLLM's file that document the format rather than price a model.
_NOT_MODELS = frozenset({"sample_spec"})
# Dated snapshots: OpenAI "-2024-08-06", Anthropic "-20250929", Vertex "@20250929", Gemini "-001".
_SNAPSHOT = re.compile(r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3})|@default)$")


class UnknownModelError(ValueError, KeyError):
    """No price is known for a model. Catch it as ``ValueError`` or ``KeyError``."""

    __str__ = BaseException.__str__


class PriceError(ValueError):
    """A price entry that cannot be used (a price that is not a number >= 0, a missing price)."""


class Prices(NamedTuple):
    """USD per token of one model; cache prices already fall back to the input price.

    ``tiers`` holds (threshold, Prices) for long prompts, longest threshold first; ``service``
    maps a service-tier suffix ("_priority", "_flex", "_batches") to its Prices."""

    input: float
    output: float
    reasoning: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float
    tiers: tuple = ()
    service: Mapping[str, "Prices"] | None = None


def _bad_price(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0


def _check_entry(name: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise PriceError(f"price entry for {name!r} must be a JSON object, not {type(entry).__name__}")
    for field, value in entry.items():
        if value is not None and _PRICE_KEY.match(field) and _bad_price(value):
            raise PriceError(f"{name!r}: {field} must be a number >= 0 (USD per token), not {value!r}")
    for field in _COUNT_FIELDS:
        value = entry.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise PriceError(f"{name!r}: {field} must be a whole number >= 0, not {value!r}")
    flag = entry.get("supports_prompt_caching")
    if flag is not None and not isinstance(flag, bool):
        raise PriceError(f"{name!r}: supports_prompt_caching must be true or false, not {flag!r}")
    return dict(entry)


def _prices(name: str, entry: Mapping[str, Any]) -> Prices:
    standard = {f: v for f, v in entry.items() if not f.endswith(_SERVICE_SUFFIXES)}
    base = _standard_prices(name, standard)
    service = {}
    for suffix in _SERVICE_SUFFIXES:
        rates = {f[: -len(suffix)]: v for f, v in entry.items() if f.endswith(suffix) and v is not None}
        if rates:
            service[suffix] = _standard_prices(name, {**standard, **rates})
    return base._replace(service=service) if service else base


def _standard_prices(name: str, entry: Mapping[str, Any]) -> Prices:
    inp = entry.get("input_cost_per_token")
    out = entry.get("output_cost_per_token")
    if inp is None or out is None:
        raise PriceError(
            f"{name!r} has no per-token price (input_cost_per_token and output_cost_per_token are needed); "
            f"add them with dejacache.load_prices({{{name!r}: {{'input_cost_per_token': ..., "
            "'output_cost_per_token': ...}})"
        )

    def price(field: str, fallback: float) -> float:
        value = entry.get(field)
        return float(fallback if value is None else value)

    base = Prices(
        float(inp),
        float(out),
        price("output_cost_per_reasoning_token", out),
        price("cache_read_input_token_cost", inp),
        price("cache_creation_input_token_cost", inp),
        price("cache_creation_input_token_cost_above_1hr", inp),
    )
    thresholds: dict[int, dict[str, float]] = {}
    for field, value in entry.items():
        m = _TIER_FIELD.match(field) if value is not None else None
        if m is not None:
            tokens = int(m.group(2)) * (1000 if m.group(3) else 1)
            thresholds.setdefault(tokens, {})[m.group(1)] = float(value)
    if not thresholds:
        return base
    tiers = []
    for tokens, rates in sorted(thresholds.items(), reverse=True):
        t_inp = rates.get("input_cost_per_token", base.input)
        t_out = rates.get("output_cost_per_token", base.output)

        # A rate the tier lacks: the model's flat rate if it names one, else the tier's input/output.
        flat = {**{f: v for f, v in entry.items() if v is not None}, **rates}
        tiers.append((tokens, Prices(
            t_inp,
            t_out,
            float(flat.get("output_cost_per_reasoning_token", t_out)),
            float(flat.get("cache_read_input_token_cost", t_inp)),
            float(flat.get("cache_creation_input_token_cost", t_inp)),
            float(flat.get("cache_creation_input_token_cost_above_1hr", t_inp)),
        )))
    return base._replace(tiers=tuple(tiers))


class PriceTable:
    """Model name -> price entry, with the resolution of aliases memoised per name.

    ``_state`` pairs the entries with the memo built from them; ``load`` swaps the pair in one
    assignment, so a reader racing a load memoises into the pair it read, never the new one.
    """

    def __init__(self) -> None:
        self._state: tuple[dict[str, dict[str, Any]], dict[str, tuple[str, Prices | None]]] = ({}, {})
        self.updated: str | None = None
        self._lock = threading.Lock()

    @staticmethod
    def parse(data: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], str | None]:
        if not isinstance(data, Mapping):
            raise PriceError(f"prices must be a JSON object of model name -> entry, not {type(data).__name__}")
        entries: dict[str, dict[str, Any]] = {}
        for name, entry in data.items():
            if not isinstance(name, str) or name in _NOT_MODELS or not isinstance(entry, Mapping):
                continue  # top-level metadata such as "updated"
            entries[name.lower()] = _check_entry(name, entry)
        updated = data.get("updated")
        return entries, updated if isinstance(updated, str) else None

    def load(self, data: Mapping[str, Any], merge: bool) -> int:
        entries, updated = self.parse(data)
        with self._lock:
            if merge:
                merged = dict(self._state[0])
                for name, entry in entries.items():
                    merged[name] = {**merged.get(name, {}), **entry}
            else:
                merged = entries
            self._state = (merged, {})
            if updated is not None or not merge:
                self.updated = updated
        return len(entries)

    def _remember(self, model: Any, entries: dict, resolved: dict) -> tuple[str, Prices | None]:
        if not isinstance(model, str) or not model:
            raise UnknownModelError(f"model must be a non-empty str, not {model!r}")
        key = self._find(model, entries)
        if key is None:
            raise UnknownModelError(
                f"no price known for model {model!r}. Add one with dejacache.load_prices("
                f"{{{model!r}: {{'input_cost_per_token': ..., 'output_cost_per_token': ..., "
                "'cache_read_input_token_cost': ...}}) or load LiteLLM's "
                "model_prices_and_context_window.json with dejacache.load_prices(path)"
            )
        found = (key, None)
        resolved[model] = found
        return found

    @staticmethod
    def _find(model: str, entries: dict) -> str | None:
        name = model.strip().lower()
        tried = [name]
        if "/" in name:
            tried.append(name.rsplit("/", 1)[1])  # "anthropic/claude-...", "models/gemini-..."
        if name.startswith("ft:"):
            tried.append(":".join(name.split(":")[:2]))  # "ft:gpt-4o-mini-2024-07-18:org::id"
        for candidate in tried:
            while True:
                if candidate in entries:
                    return candidate
                shorter = _SNAPSHOT.sub("", candidate)
                if shorter == candidate:
                    break
                candidate = shorter
        return None

    def prices(self, model: str) -> Prices:
        entries, resolved = self._state
        found = resolved.get(model) if type(model) is str else None
        if found is None or found[1] is None:
            key = found[0] if found is not None else self._remember(model, entries, resolved)[0]
            found = (key, _prices(key, entries[key]))
            resolved[model] = found
        return found[1]  # type: ignore[return-value]

    def entry(self, model: str) -> tuple[str, dict[str, Any]]:
        """The table's name for ``model`` (case, provider prefix, snapshot date removed) and its entry."""
        entries, resolved = self._state
        found = resolved.get(model) if type(model) is str else None
        key = found[0] if found is not None else self._remember(model, entries, resolved)[0]
        return key, entries[key]


_table: PriceTable | None = None
_table_lock = threading.Lock()


def _packaged() -> dict[str, Any]:
    return orjson.loads(resources.files("dejacache").joinpath("data", "prices.json").read_bytes())


def price_table() -> PriceTable:
    """The process-wide table, read from the packaged data file on first use."""
    global _table
    table = _table
    if table is None:
        with _table_lock:
            if _table is None:
                fresh = PriceTable()
                fresh.load(_packaged(), merge=False)
                _table = fresh
            table = _table
    return table


def load_prices(path_or_dict: str | os.PathLike[str] | Mapping[str, Any], *, merge: bool = True) -> int:
    """Loads model prices: LiteLLM's ``model_prices_and_context_window.json`` or your own.

    Entries use LiteLLM's field names (``input_cost_per_token``, ``output_cost_per_token``,
    ``cache_read_input_token_cost``, ``cache_creation_input_token_cost``,
    ``cache_creation_input_token_cost_above_1hr``, ``supports_prompt_caching``,
    ``prompt_cache_min_tokens``, ``litellm_provider``). With ``merge=True`` (default) each entry's
    fields override those of the known model of the same name and other models stay; with
    ``merge=False`` the loaded prices replace the whole table. Returns how many entries were read.

    >>> load_prices({"my-llama": {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7}})
    1
    """
    if isinstance(path_or_dict, Mapping):
        data = path_or_dict
    elif isinstance(path_or_dict, (str, os.PathLike)):
        try:
            with open(path_or_dict, "rb") as f:
                data = orjson.loads(f.read())
        except orjson.JSONDecodeError as exc:
            raise PriceError(f"{os.fspath(path_or_dict)!r} is not valid JSON: {exc}") from None
    else:
        raise TypeError(f"load_prices takes a path or a dict, not {type(path_or_dict).__name__}")
    return price_table().load(data, merge)


def model_info(model: str) -> dict[str, Any]:
    """The price entry of ``model`` (LiteLLM field names) plus ``key``, the name it resolved to.

    >>> model_info("anthropic/claude-sonnet-4-5-20250929")["key"]
    'claude-sonnet-4-5'
    """
    key, entry = price_table().entry(model)
    return {**entry, "key": key}


def supports_prompt_caching(model: str) -> bool:
    """True when the provider caches prompt prefixes of ``model`` (False for unknown models)."""
    try:
        _, entry = price_table().entry(model)
    except UnknownModelError:
        return False
    return bool(entry.get("supports_prompt_caching", False))


def cost_of_counts(c: Counts, p: Prices) -> float:
    if p.tiers:
        for threshold, tier in p.tiers:
            if c.prompt > threshold:
                p = tier
                break
    return (
        (c.prompt - c.cached - c.written) * p.input
        + c.cached * p.cache_read
        + (c.written - c.written_1h) * p.cache_write_5m
        + c.written_1h * p.cache_write_1h
        + (c.completion - c.reasoning) * p.output
        + c.reasoning * p.reasoning
    )


def _parts(response: Any) -> tuple[Any, Any, Any, Any]:
    """(usage, model name, served-by-dejacache flag, service tier) of a response or a bare usage."""
    view = fields(response)
    if "usage" in view:  # a response, even when its usage is null (a streamed chunk)
        return view.get("usage"), view.get("model"), view.get("cache"), view.get("service_tier")
    for usage_field, model_field in (("usageMetadata", "modelVersion"), ("usage_metadata", "model_version")):
        if usage_field in view:
            return view.get(usage_field), view.get(model_field), view.get("cache"), None
    return response, None, None, None


def _for_service(prices: Prices, response_tier: Any, usage: Any) -> Prices:
    tier = response_tier if response_tier is not None else fields(usage).get("service_tier")
    if tier is None or type(tier) is not str:
        return prices
    return prices.service.get(_SERVICE_OF.get(tier.lower(), ""), prices)  # type: ignore[union-attr]


def completion_cost(response: Any, model: str | None = None) -> float:
    """USD cost of one call, with prompt-caching prices.

    ``response`` is an OpenAI or Anthropic SDK response, a response dict (OpenAI, Anthropic,
    DeepSeek, Gemini, Bedrock), or a bare usage (then pass ``model``). ``model`` wins over the
    response's own model name. Cost = uncached prompt x input price + cache reads x cache-read
    price + cache writes x cache-write price (5 minute and 1 hour) + output x output price; a
    missing cache price falls back to the input price. A response that dejacache answered from
    its cache (``cache: True``) cost nothing and returns 0.0.

    >>> completion_cost({"prompt_tokens": 1200, "completion_tokens": 100,
    ...                  "prompt_tokens_details": {"cached_tokens": 1000}}, model="gpt-4o")
    0.00275

    Raises ``UnknownModelError`` (``ValueError`` and ``KeyError``) for a model without prices,
    ``UsageError`` (``ValueError``) for unreadable usage.
    """
    usage, name, served, tier = _parts(response)
    if served is True:
        return 0.0
    counts = read_counts(usage)
    if model is None:
        model = name
        if model is None:
            raise UnknownModelError("the response names no model; pass model=...")
    table = _table or price_table()
    found = table._state[1].get(model) if type(model) is str else None
    prices = found[1] if found is not None and found[1] is not None else table.prices(model)
    if prices.service is not None:
        prices = _for_service(prices, tier, usage)
    return cost_of_counts(counts, prices)


def call_meta(response: Any, model: str | None = None, latency_s: float | None = None) -> dict[str, Any]:
    """What a provider call cost, for ``Cache.put(..., meta=...)``: ``latency_s``, ``tokens``
    (total, normalised) and ``cost_usd``. Never raises: a part that cannot be worked out
    (no usage, a model without prices) is left out, so caching never fails a call.

    >>> call_meta({"model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}, latency_s=0.8)
    {'latency_s': 0.8, 'tokens': 15, 'cost_usd': 7.5e-05}
    """
    meta: dict[str, Any] = {}
    if latency_s is not None:
        meta["latency_s"] = float(latency_s)
    try:
        usage, name, _, tier = _parts(response)
        counts = read_counts(usage)
    except (UsageError, TypeError, AttributeError) as exc:
        log.debug("dejacache: no token usage in the response: %s", exc)
        return meta
    meta["tokens"] = counts.total
    try:
        prices = price_table().prices(model or name)
        if prices.service is not None:
            prices = _for_service(prices, tier, usage)
        meta["cost_usd"] = cost_of_counts(counts, prices)
    except (UnknownModelError, PriceError) as exc:
        log.debug("dejacache: cost of the call unknown: %s", exc)
    return meta
