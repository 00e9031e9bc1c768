"""Per-token rates of one model, built once from its price entry, and the cost of a call at them.

A price entry (LiteLLM's field names) may carry, beside its flat rates:
- long-context rates, ``input_cost_per_token_above_200k_tokens``: they apply when the prompt
  (cached part included) is longer than the threshold;
- service-tier rates, ``input_cost_per_token_<tier>`` for whatever tiers the entry names
  (``_priority``, ``_flex``, ``_batches``, ``_ultrafast``, ...): the response's ``service_tier``
  (OpenAI) or its usage's (Anthropic) picks them;
- ``tiered_pricing`` (LiteLLM's list of ``{"range": [start, end], <rates>}``): the tier whose range
  holds the prompt length prices every token of the call (start < prompt <= end; past the last
  range, the last tier);
- ``off_peak_pricing`` (DeepSeek): rates that replace the flat ones while one of its UTC windows is
  open at the time of the call;
- ``provider_specific_entry``: multipliers of the whole cost, per region the call was served in
  (Anthropic's ``usage.inference_geo``, ``{"us": 1.1}``) and for ``usage.speed == "fast"``.
A rate a service tier lacks is the model's flat rate (reasoning: the tier's output rate when the
tier has one); a cache price that neither names is the input rate of the tier served.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone, tzinfo
from typing import Any, NamedTuple

from .._errors import PriceError
from .counts import Counts, fields

PRICE_FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "output_cost_per_reasoning_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
)
_LONG_CONTEXT = re.compile(rf"^({'|'.join(f for f in PRICE_FIELDS if 'reasoning' not in f)})_above_(\d+)(k?)_tokens$")
# A service tier's rates are a price field with one lower-case word after it, the tier's name
# ("input_cost_per_token_ultrafast"); the tiers are read from the entry, not from a fixed list.
_PRICE_KEY = re.compile(rf"^({'|'.join(PRICE_FIELDS)})(_above_\d+k?_tokens)?(_[a-z]+)?$")
# service_tier values that name another tier's rates (LiteLLM's spelling of the same tiers).
_SERVICE_ALIASES = {"fast": "priority", "batch": "batches"}
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ),
        start=1,
    )
    for name in names
}


class OffPeak(NamedTuple):
    """Windows as (ISO weekdays or None for every day, weekday calendar, ((start, end) minutes, ...))."""

    rules: tuple
    prices: Prices

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
    tier name ("priority", "flex", "batches", ...) -> Prices; ``off_peak``: OffPeak or None;
    ``ranges``: (start, end, Prices) of ``tiered_pricing``, by start; ``multipliers``: the
    entry's ``provider_specific_entry`` (region or speed -> factor on the whole cost)."""

    input: float
    output: float
    reasoning: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float
    tiers: tuple = ()
    service: Mapping[str, Prices] | None = None
    off_peak: OffPeak | None = None
    ranges: tuple = ()
    multipliers: Mapping[str, float] | None = None


def _bad_price(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0


def check_rates(name: str, entry: Mapping[str, Any]) -> None:
    """Raises PriceError for a rate that is not a number >= 0 or an unreadable off_peak_pricing,
    tiered_pricing or provider_specific_entry."""
    for field, value in entry.items():
        if value is not None and _PRICE_KEY.match(field) and _bad_price(value):
            raise PriceError(f"{name!r}: {field} must be a number >= 0 (USD per token), not {value!r}")
    _token_ranges(name, entry.get("tiered_pricing"))
    _multipliers(name, entry.get("provider_specific_entry"))
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
    rules: list[tuple[frozenset[int] | None, Any, Any]] = []
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


def _service_tier(field: str) -> str | None:
    m = _PRICE_KEY.match(field)
    return None if m is None or m.group(3) is None else m.group(3)[1:]


def _token_ranges(name: str, table: Any) -> list[tuple[float, float, Mapping[str, Any]]]:
    """The token-priced tiers of a ``tiered_pricing`` list, by start. Tiers without a ``range``
    price something else (LiteLLM's per-query search tiers) and are skipped."""
    if table is None:
        return []
    if not isinstance(table, (list, tuple)):
        raise PriceError(f"{name!r}: tiered_pricing must be a list of tiers, not {type(table).__name__}")
    ranges = []
    for tier in table:
        if not isinstance(tier, Mapping):
            raise PriceError(f"{name!r}: each tiered_pricing item must be an object, not {tier!r}")
        bounds = tier.get("range")
        if bounds is None or tier.get("input_cost_per_token") is None:
            continue
        if (
            not isinstance(bounds, (list, tuple))
            or len(bounds) != 2
            or any(_bad_price(b) for b in bounds)
            or bounds[0] >= bounds[1]
        ):
            raise PriceError(f"{name!r}: tiered_pricing range {bounds!r} must be [start, end] tokens, 0 <= start < end")
        for field in PRICE_FIELDS:
            if tier.get(field) is not None and _bad_price(tier[field]):
                raise PriceError(f"{name!r}: tiered_pricing {field} must be a number >= 0, not {tier[field]!r}")
        ranges.append((float(bounds[0]), float(bounds[1]), tier))
    return sorted(ranges, key=lambda r: r[0])


def _multipliers(name: str, block: Any) -> dict[str, float] | None:
    if block is None:
        return None
    if not isinstance(block, Mapping):
        raise PriceError(f"{name!r}: provider_specific_entry must be an object, not {type(block).__name__}")
    out = {}
    for key, value in block.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # LiteLLM keeps flags there too
        if not math.isfinite(value) or value < 0:
            raise PriceError(f"{name!r}: provider_specific_entry[{key!r}] must be a number >= 0, not {value!r}")
        out[str(key).lower()] = float(value)
    return out or None


def _ranged(name: str, entry: Mapping[str, Any], ranges: list) -> tuple:
    """Each tier's Prices. A rate a tier lacks: output -> the model's, reasoning -> the tier's
    output, cache read and write -> the tier's input, one-hour write -> the tier's write."""
    out = []
    for start, end, tier in ranges:
        inp = float(tier["input_cost_per_token"])
        if tier.get("output_cost_per_token") is not None:
            output = float(tier["output_cost_per_token"])
            reasoning = float(tier.get("output_cost_per_reasoning_token", output))
        else:
            output = float(entry.get("output_cost_per_token") or 0.0)
            named = (tier.get("output_cost_per_reasoning_token"), entry.get("output_cost_per_reasoning_token"))
            reasoning = next((float(r) for r in named if r is not None), output)
        write = float(tier.get("cache_creation_input_token_cost", inp))
        out.append(
            (
                start,
                end,
                Prices(
                    inp,
                    output,
                    reasoning,
                    float(tier.get("cache_read_input_token_cost", inp)),
                    write,
                    float(tier.get("cache_creation_input_token_cost_above_1hr", write)),
                ),
            )
        )
    return tuple(out)


def build(name: str, entry: Mapping[str, Any]) -> Prices:
    """The Prices of ``entry`` with its long-context, service-tier, tiered, off-peak and regional variants."""
    ranges = _token_ranges(name, entry.get("tiered_pricing"))
    multipliers = _multipliers(name, entry.get("provider_specific_entry"))
    if ranges:
        # tiered_pricing prices every token of the call at one tier (LiteLLM applies it before
        # any service tier); a model priced only by tiers has no flat rates of its own.
        tiered = _ranged(name, entry, ranges)
        return tiered[0][2]._replace(ranges=tiered, multipliers=multipliers)
    standard = {f: v for f, v in entry.items() if _service_tier(f) is None}
    base = _flat_and_long_context(name, standard)
    service = {}
    tiers: dict[str, dict[str, Any]] = {}
    for field, value in entry.items():
        tier = _service_tier(field)
        if tier is not None and value is not None:
            tiers.setdefault(tier, {})[field[: -len(tier) - 1]] = value
    for tier, rates in tiers.items():
        inherited = dict(standard)
        if "output_cost_per_token" in rates and "output_cost_per_reasoning_token" not in rates:
            # A tier with its own output rate bills reasoning at it, not at the standard reasoning rate.
            inherited.pop("output_cost_per_reasoning_token", None)
        service[tier] = _flat_and_long_context(name, {**inherited, **rates})
    block = entry.get("off_peak_pricing")
    off_peak = None
    if block is not None:
        # Off-peak rates hold for the whole request, whatever its length.
        rates = {f: v for f, v in block.items() if f in PRICE_FIELDS and v is not None}
        flat = {f: v for f, v in entry.items() if f in PRICE_FIELDS and v is not None}
        off_peak = OffPeak(_off_peak_rules(name, block), _flat_and_long_context(name, {**flat, **rates}))
    if service or off_peak or multipliers:
        base = base._replace(service=service or None, off_peak=off_peak, multipliers=multipliers)
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
    crossed: dict[str, float] = {}
    for tokens, rates in sorted(thresholds.items()):
        # Each rate keeps its own thresholds: a prompt past 128k still pays the output rate
        # named "above 32k" when no higher threshold names an output rate (as LiteLLM bills).
        crossed = {**crossed, **rates}
        tier_in = crossed.get("input_cost_per_token", base.input)
        tier_out = crossed.get("output_cost_per_token", base.output)
        tiers.append((tokens, _rates({**flat, **crossed}, tier_in, tier_out)))
    return base._replace(tiers=tuple(reversed(tiers)))


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
            tier = tier.lower()
            return p.service.get(_SERVICE_ALIASES.get(tier, tier), p)
    return p


def multiplier(p: Prices, usage: Any) -> float:
    """The factor on the whole cost for the region the call was served in (``inference_geo``)
    and for Anthropic's fast mode (``speed``), from the entry's ``provider_specific_entry``."""
    if p.multipliers is None or usage is None:
        return 1.0
    view = fields(usage)
    factor = 1.0
    geo = view.get("inference_geo")
    if type(geo) is str and geo.lower() not in ("global", "not_available"):
        factor *= p.multipliers.get(geo.lower(), 1.0)
    if view.get("speed") == "fast":
        factor *= p.multipliers.get("fast", 1.0)
    return factor


def _in_range(p: Prices, prompt: int) -> Prices:
    for start, end, tier in p.ranges:
        if start < prompt <= end:
            return tier
    return p.ranges[-1][2] if prompt > 0 else p.ranges[0][2]


def cost_of_counts(c: Counts, p: Prices) -> float:
    if p.ranges:
        p = _in_range(p, c.prompt)
    elif p.tiers:
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
