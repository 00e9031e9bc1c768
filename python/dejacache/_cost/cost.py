"""What an LLM call cost, from its usage and a dated price table with prompt-caching prices.

The table uses the field names of LiteLLM's ``model_prices_and_context_window.json``, so that file
(or any part of it, or a user's own overrides) loads as is with ``load_prices``. The packaged table
(``data/prices.json``) is read on first use, never at import.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from importlib import resources
from typing import Any

import orjson

from .._errors import UnknownModelError
from .counts import fields
from .pricing import PriceError, Prices, build, check_rates, cost_of_counts, for_call, multiplier
from .usage import UsageError, read_counts

log = logging.getLogger("dejacache")

_COUNT_FIELDS = ("prompt_cache_min_tokens", "max_input_tokens", "max_output_tokens", "max_tokens")
# Entries of LiteLLM's file that document the format rather than price a model.
_NOT_MODELS = frozenset({"sample_spec"})
# Dated snapshots: OpenAI "-2024-08-06", Anthropic "-20250929", Vertex "@20250929", Gemini "-001".
_SNAPSHOT = re.compile(r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3})|@default)$")


def _check_entry(name: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise PriceError(f"price entry for {name!r} must be a JSON object, not {type(entry).__name__}")
    check_rates(name, entry)
    for field in _COUNT_FIELDS:
        value = entry.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise PriceError(f"{name!r}: {field} must be a whole number >= 0, not {value!r}")
    flag = entry.get("supports_prompt_caching")
    if flag is not None and not isinstance(flag, bool):
        raise PriceError(f"{name!r}: supports_prompt_caching must be true or false, not {flag!r}")
    return dict(entry)


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
            found = (key, build(key, entries[key]))
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
    return orjson.loads(resources.files("dejacache").joinpath("data/prices.json").read_bytes())


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

    >>> model_info("anthropic/claude-sonnet-4-5-20991231")["key"]
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


def _parts(response: Any) -> tuple[Any, Any, Any]:
    """(usage, model name, response view or None for a bare usage) of a response."""
    view = fields(response)
    if "usage" in view:  # a response, even when its usage is null (a streamed chunk)
        return view.get("usage"), view.get("model"), view
    for usage_field, model_field in (("usageMetadata", "modelVersion"), ("usage_metadata", "model_version")):
        if usage_field in view:
            return view.get(usage_field), view.get(model_field), view
    return response, None, None


def _variant(prices: Prices, view: Any, usage: Any, at: float | None) -> Prices:
    """The rates for this call: off-peak at the call's time, or its service tier's."""
    if at is None:
        created: Any = None if view is None else view.get("created")
        at = float(created) if type(created) in (int, float) else time.time()
    return for_call(prices, None if view is None else view.get("service_tier"), usage, at)


def completion_cost(response: Any, model: str | None = None, *, at: float | None = None) -> float:
    """USD cost of one call, with prompt-caching prices.

    ``response`` is an OpenAI or Anthropic SDK response, a response dict (OpenAI, Anthropic,
    DeepSeek, Gemini, Bedrock), or a bare usage (then pass ``model``). ``model`` wins over the
    response's own model name. Cost = uncached prompt x input price + cache reads x cache-read
    price + cache writes x cache-write price (5 minute and 1 hour) + output x output price; a
    missing cache price falls back to the input price. The response's ``service_tier`` picks
    priority / flex / batch rates; time-of-day rates (DeepSeek's off-peak hours) use ``at``
    (unix seconds), else the response's ``created``, else now. A response that dejacache
    answered from its cache (``cache: True``) cost nothing and returns 0.0.

    >>> completion_cost({"prompt_tokens": 1200, "completion_tokens": 100,
    ...                  "prompt_tokens_details": {"cached_tokens": 1000}}, model="gpt-4o")
    0.00275

    Raises ``UnknownModelError`` (``ValueError`` and ``KeyError``) for a model without prices,
    ``UsageError`` (``ValueError``) for unreadable usage.
    """
    usage, name, view = _parts(response)
    if view is not None and view.get("cache") is True:
        return 0.0
    counts = read_counts(usage)
    if model is None:
        model = name
        if model is None:
            raise UnknownModelError("the response names no model; pass model=...")
    table = _table or price_table()
    found = table._state[1].get(model) if type(model) is str else None
    prices = found[1] if found is not None and found[1] is not None else table.prices(model)
    factor = 1.0 if prices.multipliers is None else multiplier(prices, usage)
    if prices.service is not None or prices.off_peak is not None:
        prices = _variant(prices, view, usage, at)
    return cost_of_counts(counts, prices) * factor


def call_meta(response: Any, model: str | None = None, latency_s: float | None = None) -> dict[str, Any]:
    """What a provider call cost, for ``Cache.put(..., meta=...)``: ``latency_s``, ``tokens``
    (total, normalised) and ``cost_usd``. Never raises: a part that cannot be worked out
    (no usage, a model without prices) is left out, so caching never fails a call.

    >>> call_meta({"model": "gpt-4o", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}, latency_s=0.8)
    {'latency_s': 0.8, 'tokens': 1100, 'cost_usd': 0.0035}
    """
    meta: dict[str, Any] = {}
    if latency_s is not None:
        meta["latency_s"] = float(latency_s)
    try:
        usage, name, view = _parts(response)
        counts = read_counts(usage)
    except (UsageError, TypeError, AttributeError) as exc:
        log.debug("dejacache: no token usage in the response: %s", exc)
        return meta
    meta["tokens"] = counts.total
    try:
        prices = price_table().prices(model or name)
        factor = multiplier(prices, usage)
        if prices.service is not None or prices.off_peak is not None:
            prices = _variant(prices, view, usage, None)
        meta["cost_usd"] = cost_of_counts(counts, prices) * factor
    except (UnknownModelError, PriceError) as exc:
        log.debug("dejacache: cost of the call unknown: %s", exc)
    return meta
