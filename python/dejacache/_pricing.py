"""Per-token rates of one model, built once from its price entry, and the cost of a call at them.

A price entry (LiteLLM's field names) may carry, beside its flat rates:
- long-context rates, ``input_cost_per_token_above_200k_tokens``: they apply when the prompt
  (cached part included) is longer than the threshold;
- service-tier rates, ``input_cost_per_token_priority`` / ``_flex`` / ``_batches``: the response's
  ``service_tier`` (OpenAI) or its usage's (Anthropic) picks them;
- ``off_peak_pricing`` (DeepSeek): rates that replace the flat ones while one of its UTC windows is
  open at the time of the call.
A rate a tier lacks is the model's flat rate; a cache price that neither names is the input rate
of the tier served.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone, tzinfo
from typing import Any, Mapping, NamedTuple

from ._usage import Counts, fields
from ._errors import PriceError

PRICE_FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "output_cost_per_reasoning_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
)
_LONG_CONTEXT = re.compile(r"^(%s)_above_(\d+)(k?)_tokens$" % "|".join(f for f in PRICE_FIELDS if "reasoning" not in f))
_SERVICE_SUFFIXES = ("_flex", "_priority", "_batches")
_SERVICE_OF = {"flex": "_flex", "priority": "_priority", "fast": "_priority", "batch": "_batches"}
_PRICE_KEY = re.compile(r"^(%s)(_above_\d+k?_tokens)?(%s)?$" % ("|".join(PRICE_FIELDS), "|".join(_SERVICE_SUFFIXES)))
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_WEEKDAYS = {name: i for i, names in enumerate(
    (("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "wednesday"), ("thu", "thur", "thurs", "thursday"),
     ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday")), start=1) for name in names}




class OffPeak(NamedTuple):
    """Windows as (ISO weekdays or None for every day, weekday calendar, ((start, end) minutes, ...))."""

    rules: tuple
    prices: "Prices"

    def open_at(self, when: float) -> bool:
        moment = datetime.fromtimestamp(when, timezone.utc)
        minute = moment.hour * 60 + moment.minute
        for weekdays, calendar, windows in self.rules:
            if weekdays is not None and moment.astimezone(calendar).isoweekday() not in weekdays:
                continue
            for start, end in windows:
                if start < end:
                    if start <= minute < end:
                        return True
                elif minute >= start or minute < end:  # wraps past midnight; start == end: all day
                    return True
        return False


class Prices(NamedTuple):
    """USD per token of one model, fallbacks already applied.

    ``tiers``: (threshold, Prices) for long prompts, longest threshold first; ``service``: service
    tier suffix ("_priority", "_flex", "_batches") -> Prices; ``off_peak``: OffPeak or None."""

    input: float
    output: float
    reasoning: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float
    tiers: tuple = ()
    service: Mapping[str, "Prices"] | None = None
    off_peak: OffPeak | None = None


def _bad_price(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0


def check_rates(name: str, entry: Mapping[str, Any]) -> None:
    """Raises PriceError for a rate that is not a number >= 0 or an unreadable off_peak_pricing."""
    for field, value in entry.items():
        if value is not None and _PRICE_KEY.match(field) and _bad_price(value):
            raise PriceError(f"{name!r}: {field} must be a number >= 0 (USD per token), not {value!r}")
    block = entry.get("off_peak_pricing")
    if block is not None:
        _off_peak_rules(name, block)
        for field in PRICE_FIELDS:
            if block.get(field) is not None and _bad_price(block[field]):
                raise PriceError(f"{name!r}: off_peak_pricing.{field} must be a number >= 0, not {block[field]!r}")


def _minutes(name: str, window: Any) -> tuple[int, int]:
    m = _WINDOW.match(window) if isinstance(window, str) else None
    if m is None or int(m.group(1)) > 23 or int(m.group(3)) > 23 or int(m.group(2)) > 59 or int(m.group(4)) > 59:
        raise PriceError(f"{name!r}: off-peak window {window!r} must read 'HH:MM-HH:MM' (UTC)")
    return int(m.group(1)) * 60 + int(m.group(2)), int(m.group(3)) * 60 + int(m.group(4))


def _windows(name: str, hours: Any) -> tuple:
    if hours is None:
        return ()
    return tuple(_minutes(name, w) for w in ((hours,) if isinstance(hours, str) else hours))


def _weekday(name: str, day: Any) -> int:
    if type(day) is int and 1 <= day <= 7:
        return day
    if isinstance(day, str) and day.strip().lower() in _WEEKDAYS:
        return _WEEKDAYS[day.strip().lower()]
    raise PriceError(f"{name!r}: off-peak weekday {day!r} must be 1 (Monday) to 7 (Sunday) or a day name")


def _calendar(name: str, zone: Any) -> tzinfo:
    if zone is None:
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only DeepSeek-style entries need it

    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise PriceError(f"{name!r}: off_peak_pricing.weekday_timezone {zone!r} is not a known time zone") from None


def _off_peak_rules(name: str, block: Any) -> tuple:
    if not isinstance(block, Mapping):
        raise PriceError(f"{name!r}: off_peak_pricing must be an object, not {type(block).__name__}")
    calendar = _calendar(name, block.get("weekday_timezone"))
    rules = []
    every_day = _windows(name, block.get("hours_utc"))
    if every_day:
        rules.append((None, calendar, every_day))
    for rule in block.get("windows") or ():
        if not isinstance(rule, Mapping):
            raise PriceError(f"{name!r}: each off_peak_pricing.windows item must be an object, not {rule!r}")
        days = rule.get("weekdays")
        weekdays = None if days is None else frozenset(_weekday(name, d) for d in days)
        rules.append((weekdays, calendar, _windows(name, rule.get("hours_utc"))))
    return tuple(rules)


def build(name: str, entry: Mapping[str, Any]) -> Prices:
    """The Prices of ``entry`` with its long-context, service-tier and off-peak variants."""
    standard = {f: v for f, v in entry.items() if not f.endswith(_SERVICE_SUFFIXES)}
    base = _flat_and_long_context(name, standard)
    service = {}
    for suffix in _SERVICE_SUFFIXES:
        rates = {f[: -len(suffix)]: v for f, v in entry.items() if f.endswith(suffix) and v is not None}
        if rates:
            service[suffix] = _flat_and_long_context(name, {**standard, **rates})
    block = entry.get("off_peak_pricing")
    off_peak = None
    if block is not None:
        # Off-peak rates hold for the whole request, whatever its length.
        rates = {f: v for f, v in block.items() if f in PRICE_FIELDS and v is not None}
        flat = {f: v for f, v in entry.items() if f in PRICE_FIELDS and v is not None}
        off_peak = OffPeak(_off_peak_rules(name, block), _flat_and_long_context(name, {**flat, **rates}))
    if service or off_peak:
        base = base._replace(service=service or None, off_peak=off_peak)
    return base


def _flat_and_long_context(name: str, entry: Mapping[str, Any]) -> Prices:
    inp = entry.get("input_cost_per_token")
    out = entry.get("output_cost_per_token")
    if inp is None or out is None:
        raise PriceError(
            f"{name!r} has no per-token price (input_cost_per_token and output_cost_per_token are needed); "
            f"add them with dejacache.load_prices({{{name!r}: {{'input_cost_per_token': ..., "
            "'output_cost_per_token': ...}})"
        )
    flat = {f: v for f, v in entry.items() if v is not None}
    base = _rates(flat, float(inp), float(out))
    thresholds: dict[int, dict[str, float]] = {}
    for field, value in flat.items():
        m = _LONG_CONTEXT.match(field)
        if m is not None:
            tokens = int(m.group(2)) * (1000 if m.group(3) else 1)
            thresholds.setdefault(tokens, {})[m.group(1)] = float(value)
    if not thresholds:
        return base
    tiers = []
    for tokens, rates in sorted(thresholds.items(), reverse=True):
        tier_in = rates.get("input_cost_per_token", base.input)
        tier_out = rates.get("output_cost_per_token", base.output)
        tiers.append((tokens, _rates({**flat, **rates}, tier_in, tier_out)))
    return base._replace(tiers=tuple(tiers))


def _rates(flat: Mapping[str, Any], inp: float, out: float) -> Prices:
    return Prices(
        inp,
        out,
        float(flat.get("output_cost_per_reasoning_token", out)),
        float(flat.get("cache_read_input_token_cost", inp)),
        float(flat.get("cache_creation_input_token_cost", inp)),
        float(flat.get("cache_creation_input_token_cost_above_1hr", inp)),
    )


def for_call(p: Prices, service_tier: Any, usage: Any, when: float) -> Prices:
    """The variant of ``p`` that applies: off-peak at ``when``, else the service tier's."""
    if p.off_peak is not None and p.off_peak.open_at(when):
        return p.off_peak.prices
    if p.service is not None:
        tier = service_tier if service_tier is not None else fields(usage).get("service_tier")
        if type(tier) is str:
            return p.service.get(_SERVICE_OF.get(tier.lower(), ""), p)
    return p


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
