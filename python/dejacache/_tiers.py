"""The tiers a request goes through after the exact store misses, behind one interface.

The exact tier is the entry store itself (any ``dejacache.stores.EntryStore``: the in-process
Rust store, SQLite, Redis, ...); ``Cache`` reads it inline because its hit is the product's
microseconds. After an exact miss, ``Tiers`` asks the further tiers in order (the semantic tier,
then a lower level), copies a lower level's hit up, and hands every tier each answer to keep.

A tier implements ``Tier``; a ``memo`` is what a tier computed about a request while looking it
up (the semantic tier's embedding), handed back when the answer is kept so it is not computed
twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ._codec import encode
from ._controls import Controls
from ._core import Hit
from ._protocols import CacheLike

log = logging.getLogger("dejacache")

#: One answer to keep: (request, key, controls, response, meta, stored in the exact tier).
Kept = tuple[Any, str, Controls, Any, "dict | None", bool]


class Tier(Protocol):
    """A place answers are looked for after the exact store."""

    #: True: ``find`` is called even when the call may not read (the semantic tier embeds a
    #: write-only call's request, to keep its vector with the answer).
    always_probe: bool
    #: True: a hit here is copied into the exact tier (and kept by the tiers above).
    copies_up: bool

    def find(self, request: Any, key: str, ctl: Controls, now: float) -> tuple[Hit | None, Any]:
        """``(hit or None, memo)``."""
        ...

    def keep(
        self, request: Any, key: str, ctl: Controls, response: Any, meta: dict | None, stored: bool, memo: Any
    ) -> None:
        """Keeps an answer just written to the exact tier (``stored`` False: it was not)."""
        ...

    def keep_many(self, items: Sequence[Kept]) -> None:
        """``keep`` for many answers (a bulk load)."""
        ...

    def forget(self, request: Any, key: str, namespace: str) -> bool:
        """Removes what this tier holds for the entry; True if it held an answer."""
        ...

    def clear(self, namespace: str | None) -> int:
        """Removes everything of ``namespace`` (all when None); returns how many answers."""
        ...

    def adjust_stats(self, per_ns: dict[str, dict[str, Any]]) -> None:
        """Corrects or extends the exact tier's counters with this tier's own."""
        ...


class SemanticStage:
    """The semantic tier as a ``Tier``: a failing embedder or vector store is a miss, and a
    vector that cannot be stored loses only the vector, never the exact entry."""

    always_probe = True
    copies_up = False  # its answers are read through the exact tier already

    def __init__(self, tier: Any) -> None:
        self.tier = tier

    def find(self, request: Any, key: str, ctl: Controls, now: float) -> tuple[Hit | None, Any]:
        try:
            return self.tier.lookup(request, ctl, now)
        except Exception as exc:  # noqa: BLE001 - a failing embedder must not fail the call
            log.warning("dejacache: semantic lookup failed, treating it as a miss: %r", exc)
            return None, None

    def keep(
        self, request: Any, key: str, ctl: Controls, response: Any, meta: dict | None, stored: bool, memo: Any
    ) -> None:
        if not stored:
            return
        try:
            probe = memo if memo is not None else self.tier.probe(request, ctl.namespace)
            if probe is not None:
                self.tier.store(probe, key)
        except Exception as exc:  # noqa: BLE001 - the exact entry stands; only the vector is lost
            log.warning("dejacache: vector not stored: %r", exc)

    def keep_many(self, items: Sequence[Kept]) -> None:
        latest: dict[tuple[str, str], Any] = {}  # (namespace, key) -> request: the later answer wins
        for request, key, ctl, _, _, stored in items:
            latest.pop((ctl.namespace, key), None)
            if stored:
                latest[(ctl.namespace, key)] = request
        if not latest:
            return
        try:
            probes = self.tier.probe_many([(request, ns) for (ns, _), request in latest.items()])
            self.tier.store_many([(p, key) for p, (_, key) in zip(probes, latest) if p is not None])
        except Exception as exc:  # noqa: BLE001 - the exact entries stand; only vectors are lost
            log.warning("dejacache: vectors not stored: %r", exc)

    def forget(self, request: Any, key: str, namespace: str) -> bool:
        try:
            self.tier.forget(namespace, key)
        except Exception as exc:  # noqa: BLE001 - the entry is gone; a vector left behind is never served
            log.warning("dejacache: vector not removed: %r", exc)
        return False  # the answer itself lives in the exact tier

    def clear(self, namespace: str | None) -> int:
        try:
            self.tier.clear(namespace)
        except Exception as exc:  # noqa: BLE001 - as forget: vectors of gone entries are never served
            log.warning("dejacache: vectors not removed: %r", exc)
        return 0

    def adjust_stats(self, per_ns: dict[str, dict[str, Any]]) -> None:
        self.tier.adjust_stats(per_ns)


def lower_controls(ctl: Controls, write: bool) -> dict[str, Any]:
    """The controls a lower level gets: the namespace, and the ttl (writes) or max age (reads)."""
    cache: dict[str, Any] = {"namespace": ctl.namespace}
    if write and ctl.ttl is not None:
        cache["ttl"] = ctl.ttl
    if not write and ctl.max_age is not None:
        cache["s-maxage"] = ctl.max_age
    return cache


class LowerLevel:
    """A lower-level cache as a ``Tier``: answers and deletes go down, its hits come up."""

    always_probe = False
    copies_up = True  # a hit here is written into the exact tier above

    def __init__(self, cache: CacheLike) -> None:
        self.cache = cache

    def find(self, request: Any, key: str, ctl: Controls, now: float) -> tuple[Hit | None, Any]:
        return self.cache.get(request, cache=lower_controls(ctl, write=False)), None

    def keep(
        self, request: Any, key: str, ctl: Controls, response: Any, meta: dict | None, stored: bool, memo: Any
    ) -> None:
        self.cache.put(request, response, cache=lower_controls(ctl, write=True), meta=meta)

    def keep_many(self, items: Sequence[Kept]) -> None:
        groups: dict[tuple, list] = {}  # the lower level's controls -> its items
        for request, _, ctl, response, meta, _ in items:
            controls = lower_controls(ctl, write=True)
            groups.setdefault(tuple(sorted(controls.items())), []).append((request, response, meta))
        for frozen, group in groups.items():
            self.cache.put_many(group, cache=dict(frozen))

    def forget(self, request: Any, key: str, namespace: str) -> bool:
        return self.cache.delete(request, namespace=namespace)

    def clear(self, namespace: str | None) -> int:
        return self.cache.clear(namespace)

    def adjust_stats(self, per_ns: dict[str, dict[str, Any]]) -> None:
        pass  # a lower level reports its own counters


class Tiers:
    """The tiers after the exact store, in order, and how answers move between them."""

    def __init__(self, tiers: Sequence[Tier], write_exact: Callable[[str, bytes, Controls], bool]) -> None:
        self.tiers = list(tiers)
        self._write_exact = write_exact

    def find(self, request: Any, key: str, ctl: Controls, now: float) -> tuple[Hit | None, list]:
        """The first hit after an exact miss, and every tier's memo. A hit from a lower tier is
        copied into the exact tier and kept by the tiers above it."""
        memos: list = []
        for tier in self.tiers:
            if not (ctl.read or tier.always_probe):
                memos.append(None)
                continue
            hit, memo = tier.find(request, key, ctl, now)
            memos.append(memo)
            if hit is None:
                continue
            if ctl.write and tier.copies_up:
                self._copy_up(request, key, ctl, hit, memos)
            return hit, memos
        return None, memos

    def _copy_up(self, request: Any, key: str, ctl: Controls, hit: Hit, memos: list) -> None:
        try:
            stored = self._write_exact(key, encode(hit.response, hit.meta), ctl)
        except (TypeError, ValueError):
            return
        for tier, memo in zip(self.tiers, memos[:-1]):
            if stored and memo is not None:
                tier.keep(request, key, ctl, hit.response, hit.meta, stored, memo)

    def keep(
        self, request: Any, key: str, ctl: Controls, response: Any, meta: dict | None, stored: bool, memos: list | None
    ) -> None:
        for i, tier in enumerate(self.tiers):
            tier.keep(request, key, ctl, response, meta, stored, memos[i] if memos else None)

    def keep_many(self, items: Sequence[Kept]) -> None:
        for tier in self.tiers:
            tier.keep_many(items)

    def forget(self, request: Any, key: str, namespace: str) -> bool:
        removed = False
        for tier in self.tiers:
            removed = tier.forget(request, key, namespace) or removed
        return removed

    def clear(self, namespace: str | None) -> int:
        return sum(tier.clear(namespace) for tier in self.tiers)

    def adjust_stats(self, per_ns: dict[str, dict[str, Any]]) -> None:
        for tier in self.tiers:
            tier.adjust_stats(per_ns)
