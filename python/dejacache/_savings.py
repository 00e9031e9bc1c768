"""What hits saved: provider latency, money and tokens, per namespace.

A hit only appends ``(namespace, meta)`` to a list (one C call, atomic under the GIL); the list
is folded into the totals under a lock when it grows past ``FOLD_AT`` or when the totals are
read. That keeps the bookkeeping off the hit path, and a bad ``meta`` (written by an older
version or another process into a shared store) can never fail a read: fields that are not
numbers from 0 to 2**63-1 are skipped when folded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

#: The counters kept per namespace, in the order ``stats()`` lists them.
SAVINGS_FIELDS = ("coalesced", "latency_saved_s", "cost_saved_usd", "tokens_saved")
#: meta field -> the counter it adds to.
_FROM_META = (("latency_s", "latency_saved_s"), ("cost_usd", "cost_saved_usd"), ("tokens", "tokens_saved"))
FOLD_AT = 4096
#: Largest value counted from one meta field (what put() accepts): totals stay finite.
_MAX = 2**63 - 1


def zero_savings() -> dict[str, float]:
    return dict.fromkeys(SAVINGS_FIELDS, 0)


class Savings:
    """Totals of what hits saved, per namespace.

    >>> s = Savings()
    >>> s.record("default", {"cost_usd": 0.25, "tokens": 10})
    >>> s.record("default", {"cost_usd": 0.25}, coalesced=True)
    >>> s.totals()["default"]["cost_saved_usd"], s.totals()["default"]["coalesced"]
    (0.5, 1)
    """

    __slots__ = ("_pending", "_totals", "_lock")

    def __init__(self) -> None:
        self._pending: list[tuple[str, Any, bool]] = []
        self._totals: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def record(self, namespace: str, meta: Any, coalesced: bool = False) -> None:
        """Counts one answer served without a provider call of its own."""
        pending = self._pending
        pending.append((namespace, meta, coalesced))
        if len(pending) > FOLD_AT:
            self.fold()

    @property
    def pending(self) -> list[tuple[str, Any, bool]]:
        """The list ``record`` appends to; the exact hit path appends to it directly (calling
        ``fold`` when it grows past ``FOLD_AT``), which saves a Python frame per hit."""
        return self._pending

    def fold(self) -> None:
        """Adds the recorded answers into the totals."""
        with self._lock:
            pending = self._pending
            n = len(pending)
            batch = pending[:n]
            del pending[:n]  # appends made meanwhile stay for the next fold
            for namespace, meta, coalesced in batch:
                totals = self._totals.get(namespace)
                if totals is None:
                    totals = self._totals[namespace] = zero_savings()
                if coalesced:
                    totals["coalesced"] += 1
                if not meta:
                    continue
                try:  # the common case inline: three finite numbers >= 0 (NaN fails every test)
                    latency, cost, tokens = meta.get("latency_s", 0), meta.get("cost_usd", 0), meta.get("tokens", 0)
                    if 0 <= latency <= _MAX and 0 <= cost <= _MAX and 0 <= tokens <= _MAX:
                        totals["latency_saved_s"] += latency
                        totals["cost_saved_usd"] += cost
                        totals["tokens_saved"] += tokens
                        continue
                except (TypeError, AttributeError):
                    pass
                if isinstance(meta, Mapping):  # written by another version or process: skip bad fields
                    for field, counter in _FROM_META:
                        value = meta.get(field)
                        if value is not None and _usable(value):
                            totals[counter] += value

    def totals(self) -> dict[str, dict[str, float]]:
        """A copy of the totals: ``{namespace: {counter: value}}``."""
        self.fold()
        with self._lock:
            return {ns: dict(t) for ns, t in self._totals.items()}


def _usable(value: Any) -> bool:
    return type(value) in (int, float) and 0 <= value <= _MAX
