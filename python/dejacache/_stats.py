"""``Cache.stats()``: the store's counters per namespace, with the savings and the tiers' own
counts folded in, and the totals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._savings import SAVINGS_FIELDS, zero_savings
from .stores._base import COUNTER_NAMES

if TYPE_CHECKING:
    from ._savings import Savings
    from ._tiers import Tiers

_ZERO_COUNTERS = dict.fromkeys(COUNTER_NAMES, 0)


def assemble_stats(store: Any, savings: Savings, tiers: Tiers | None) -> dict[str, Any]:
    """The dict ``Cache.stats()`` returns (see there)."""
    totals = savings.totals()
    per_ns: dict[str, dict[str, Any]] = {
        ns: _with_savings(counters, totals.pop(ns, None)) for ns, counters in store.stats()
    }
    if tiers is not None:
        tiers.adjust_stats(per_ns)
    total: dict[str, Any] = {**_ZERO_COUNTERS, **zero_savings()}
    # Misses under tenant names never written to are not kept per name past a bound (a read
    # must not grow the cache); they still count in the totals.
    total["misses"] += getattr(store, "unlisted_misses", 0)
    guard_stats = getattr(store, "guard_stats", None)
    if guard_stats is not None:  # a shared store's faults: store_errors, store_skipped, breaker
        total.update(guard_stats())
    for counters in per_ns.values():
        for name, value in counters.items():
            total[name] = total.get(name, 0) + value
    for counters in (*per_ns.values(), total):
        reads = counters["hits"] + counters["misses"]
        counters["hit_rate"] = counters["hits"] / reads if reads else 0.0
    total["namespaces"] = per_ns
    return total


def _with_savings(counters: dict[str, Any], saved: dict[str, float] | None) -> dict[str, Any]:
    """One namespace's counters with its savings: those the store counted itself (the
    in-process store counts the hits it serves whole) plus those counted in Python."""
    row = dict(counters)
    for name in SAVINGS_FIELDS:
        row[name] = row.get(name, 0) + (saved[name] if saved else 0)
    return row
