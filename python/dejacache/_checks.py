"""Checks of what a caller stores: ``meta`` at ``put``, non-finite numbers in an answer, and the
savings counted on a read, which must never fail it (an entry may come from an older version,
or from another process sharing the store).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import orjson

log = logging.getLogger("dejacache")

#: The meta fields ``stats()`` adds up as savings, and the largest value each may hold.
SAVINGS_META = ("latency_s", "cost_usd", "tokens")
_MAX_SAVING = 2**63 - 1
_EXAMPLE = "{'latency_s': 0.8, 'cost_usd': 0.002, 'tokens': 1100}"


def _saving_ok(value: Any) -> bool:
    # NaN fails both comparisons; bool is an int, but True tokens is a bug, not a count.
    return (type(value) is float or type(value) is int) and 0 <= value <= _MAX_SAVING


def check_meta(meta: Any) -> dict | None:
    """``meta`` as ``put`` stores it, or a TypeError / ValueError naming the bad field.

    The savings fields must be finite numbers >= 0; any other field may hold any JSON value,
    kept with the entry (``Hit.meta``) and ignored by ``stats()``.
    """
    if meta is None:
        return None
    if type(meta) is not dict:
        if not isinstance(meta, Mapping):
            raise TypeError(f"meta must be a dict such as {_EXAMPLE}, not {type(meta).__name__}")
        meta = dict(meta)
    for name in meta:
        if type(name) is not str:
            raise TypeError(f"meta keys must be str, not {name!r} ({type(name).__name__})")
    for name in SAVINGS_META:
        if name in meta and not _saving_ok(meta[name]):
            raise ValueError(
                f"meta[{json.dumps(name)}] must be a finite number from 0 to 2**63-1 (stats() adds it up "
                f"as savings), not {meta[name]!r}; leave it out when it is unknown"
            )
    try:
        blob = orjson.dumps(meta)
    except TypeError:
        for name, value in meta.items():
            try:
                orjson.dumps(value)
            except TypeError as exc:
                raise TypeError(
                    f"meta[{json.dumps(name)}] must be JSON-like (dict, list, str, number, bool, None): {exc}"
                ) from None
        raise
    if b"null" in blob:
        check_finite(meta, "meta")
    return meta


def savings_of(meta: Any) -> tuple[float, float, float]:
    """(latency_s, cost_usd, tokens) of a stored entry's meta; a field that is missing or not a
    number ``put`` accepts counts 0 (logged at debug level), so a read never fails on it."""
    if type(meta) is not dict:
        if meta:
            log.debug("dejacache: ignoring stored meta that is not a dict: %r", meta)
        return 0.0, 0.0, 0
    lat = meta.get("latency_s", 0.0)
    cost = meta.get("cost_usd", 0.0)
    tokens = meta.get("tokens", 0)
    # Inline checks: this runs on every hit of an entry with meta (all of call()'s).
    t1, t2, t3 = type(lat), type(cost), type(tokens)
    if (
        (t1 is float or t1 is int)
        and (t2 is float or t2 is int)
        and (t3 is int or t3 is float)
        and 0 <= lat <= _MAX_SAVING
        and 0 <= cost <= _MAX_SAVING
        and 0 <= tokens <= _MAX_SAVING
    ):
        return lat, cost, tokens
    out = []
    for name, value, zero in (("latency_s", lat, 0.0), ("cost_usd", cost, 0.0), ("tokens", tokens, 0)):
        if _saving_ok(value):
            out.append(value)
        else:
            log.debug("dejacache: ignoring stored meta[%r] = %r: not a finite number >= 0", name, value)
            out.append(zero)
    return out[0], out[1], out[2]


def _children(v: Any) -> Any:
    """The items orjson writes for a container (dicts, lists, tuples, their subclasses,
    dataclasses), or None for a leaf."""
    if isinstance(v, dict):
        return v.items()
    if isinstance(v, (list, tuple)):
        return enumerate(v)
    fields = getattr(type(v), "__dataclass_fields__", None)
    if fields is not None:
        return [(f, getattr(v, f)) for f in fields]
    return None


def _has_non_finite(value: Any) -> bool:
    """Whether a JSON-like value holds NaN or infinity; kept lean, as it runs on puts."""
    children = _children(value)
    if children is None:
        return type(value) is float and value - value != 0.0
    for _, x in children:
        t = type(x)
        if t is float:
            if x - x != 0.0:  # inf - inf and nan - nan are nan
                return True
        elif t is not str and t is not int and x is not None and t is not bool and _has_non_finite(x):
            return True
    return False


def _non_finite_path(value: Any, path: str) -> tuple[str, float] | None:
    """(path, number) of the first NaN or infinity, for the error message."""
    children = _children(value)
    if children is None:
        return (path, value) if type(value) is float and value - value != 0.0 else None
    for k, x in children:
        found = _non_finite_path(x, f"{path}[{json.dumps(k) if isinstance(k, str) else repr(k)}]")
        if found is not None:
            return found
    return None


def check_finite(value: Any, name: str) -> None:
    """A ValueError naming the path of the first NaN or infinity in ``value``: JSON has no such
    numbers (orjson would write them as null, and the answer would come back changed)."""
    found = _non_finite_path(value, name) if _has_non_finite(value) else None
    if found is not None:
        path, number = found
        raise ValueError(
            f"cannot store {path} = {number!r}: JSON has no NaN or infinity, and the answer would come "
            "back as null. Replace the number (e.g. with None) before storing, or leave this answer uncached"
        )
