"""Checkers of config values: each takes (value, where) and returns the checked value or raises
ConfigError naming where the value sits in the file."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._errors import ConfigError

#: longest list a config value may hold (evaluators, texts): a bound on the work a file can ask for
_MAX_LIST = 64


def _short(v: Any) -> str:
    from ._controls import short_repr

    return short_repr(v)


def _int(lo: int, hi: int | None = None, none: bool = False) -> Callable[[Any, str], Any]:
    def check(v: Any, where: str) -> Any:
        if v is None and none:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
            rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise ConfigError(f"{where} must be a whole number {rng}{' or null' if none else ''}, not {_short(v)}")
        return v

    return check


def _num(lo: float, hi: float | None = None, none: bool = False, open_lo: bool = False) -> Callable[[Any, str], Any]:
    def check(v: Any, where: str) -> Any:
        if v is None and none:
            return None
        bad = isinstance(v, bool) or not isinstance(v, (int, float))
        if not bad:
            try:
                bad = not math.isfinite(v)
            except OverflowError:  # an int past the float range
                bad = True
        if not bad:
            bad = v <= lo if open_lo else v < lo
            bad = bad or (hi is not None and v > hi)
        if bad:
            rng = (f"> {lo}" if open_lo else f">= {lo}") + ("" if hi is None else f" and <= {hi}")
            raise ConfigError(f"{where} must be a number {rng}{' or null' if none else ''}, not {_short(v)}")
        return float(v)

    return check


def _str(choices: tuple[str, ...] | None = None) -> Callable[[Any, str], Any]:
    def check(v: Any, where: str) -> Any:
        if not isinstance(v, str) or not v or (choices is not None and v not in choices):
            want = f"one of {list(choices)}" if choices else "a non-empty string"
            raise ConfigError(f"{where} must be {want}, not {v!r}")
        return v

    return check


def _list(item: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def check(v: Any, where: str) -> Any:
        if not isinstance(v, list) or not v or len(v) > _MAX_LIST:
            raise ConfigError(f"{where} must be a list of 1 to {_MAX_LIST} items, not {v!r}")
        return [item(x, f"{where}[{i}]") for i, x in enumerate(v)]

    return check


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where} must be true or false, not {v!r}")
    return v
