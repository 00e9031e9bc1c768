"""Reading token counts out of a usage object: field access on dicts and SDK objects alike, counts
checked as whole numbers >= 0, and the checked ``Counts`` every provider's reader returns.

The per-provider readers, the shape detection and the normalised OpenAI form live in ``usage``.
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

from .._errors import UsageError


class Counts(NamedTuple):
    """Token counts of one call. ``prompt`` includes ``cached`` and ``written``; ``completion``
    includes ``reasoning``; ``written_1h`` is the part of ``written`` kept for one hour."""

    prompt: int
    cached: int
    written: int
    written_1h: int
    completion: int
    reasoning: int
    total: int
    split_known: bool


class _Attributes:
    """Read access by name to an object without ``__dict__`` (slots, C types)."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any):
        self._obj = obj

    def get(self, name: str) -> Any:
        return getattr(self._obj, name, None)

    def __contains__(self, name: str) -> bool:
        return hasattr(self._obj, name)


def fields(obj: Any) -> Any:
    """A mapping view of an SDK object's fields.

    Pydantic models (the OpenAI and Anthropic SDKs) keep fields in ``__dict__`` and unknown ones
    (DeepSeek's ``prompt_cache_hit_tokens`` through the OpenAI SDK) in ``__pydantic_extra__``.
    Reading those dicts avoids ``getattr`` on absent names, which pydantic answers slowly.
    """
    if type(obj) is dict or type(obj) is _Attributes:
        return obj
    d = getattr(obj, "__dict__", None)
    if d is None:
        return _Attributes(obj)
    extra = getattr(obj, "__pydantic_extra__", None)
    return {**d, **extra} if extra else d


def _get(obj: Any, name: str) -> Any:
    if type(obj) is not dict:
        obj = fields(obj)
    return obj.get(name)


def _has(obj: Any, name: str) -> bool:
    """The field exists, even if null: SDK objects carry every field of their provider."""
    if type(obj) is not dict:
        obj = fields(obj)
    return name in obj


def _n(value: Any, name: str) -> int:
    """A count: None is 0, whole floats are accepted (some JSON encoders write 12.0)."""
    if type(value) is int:
        if value < 0:
            raise UsageError(f"usage field {name!r} is negative ({value}); token counts must be >= 0")
        return value
    if value is None:
        return 0
    if isinstance(value, float):
        if value.is_integer() and value >= 0:
            return int(value)
    elif not isinstance(value, (bool, str, bytes)) and hasattr(value, "__index__"):
        return _n(operator.index(value), name)  # numpy integers, IntEnum
    raise UsageError(f"usage field {name!r} must be a whole number of tokens >= 0, not {value!r}")


def _nested(obj: Any, outer: str, inner: str) -> int:
    details = _get(obj, outer)
    if details is None:
        return 0
    return _n(_get(details, inner), f"{outer}.{inner}")


def fields_seen(usage: Any) -> list[str]:
    if isinstance(usage, dict):
        return sorted(map(str, usage))
    dump = getattr(usage, "model_dump", None)
    if callable(dump):
        try:
            return sorted(k for k, v in dump().items() if v is not None)
        except Exception:  # noqa: BLE001 - only used to word an error message
            pass
    names: Any = getattr(usage, "__dict__", None) or getattr(type(usage), "__slots__", ())
    return sorted(k for k in names if not k.startswith("_") and getattr(usage, k, None) is not None)


def _checked(
    prompt: int,
    cached: int,
    written: int,
    written_1h: int,
    completion: int,
    reasoning: int,
    total: int | None,
    split_known: bool,
) -> Counts:
    if cached + written > prompt:
        raise UsageError(
            f"usage says {cached} cached + {written} cache-write tokens but only {prompt} prompt tokens; "
            "prompt_tokens must include cached and cache-write tokens"
        )
    if written_1h > written:
        raise UsageError(f"usage says {written_1h} one-hour cache-write tokens out of only {written} written")
    if reasoning > completion:
        raise UsageError(f"usage says {reasoning} reasoning tokens but only {completion} completion tokens")
    if total is None or total < prompt + completion:
        # A total below its parts is a count left unset (LiteLLM's Usage() defaults it to 0).
        total = prompt + completion
    return Counts(prompt, cached, written, written_1h, completion, reasoning, total, split_known)


def _write_split(usage: Any, written_raw: Any) -> tuple[int, int, bool]:
    """Cache writes in total and for one hour, from Anthropic's ``cache_creation`` breakdown."""
    written = None if written_raw is None else _n(written_raw, "cache_creation_input_tokens")
    split = _get(usage, "cache_creation")
    if split is None:
        return written or 0, 0, False
    w5 = _n(_get(split, "ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens")
    w1 = _n(_get(split, "ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens")
    if written is None:
        return w5 + w1, w1, True
    if w5 + w1 > written:
        raise UsageError(
            f"cache_creation says {w5} + {w1} tokens were written but cache_creation_input_tokens is {written}"
        )
    return written, w1, True


def _total(usage: Any, name: str) -> int | None:
    value = _get(usage, name)
    return None if value is None else _n(value, name)
