"""The pieces a wrapped SDK client is made of: attribute pass-through and cached methods."""

from __future__ import annotations

import functools
from typing import Any

from .base import WrapContext
from .call_paths import create_async, create_sync


class Passthrough:
    """Forwards every attribute to the wrapped object, except the ones set on it at creation."""

    def __init__(self, target: Any, **overrides: Any):
        self.__dict__["__wrapped__"] = target
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["__wrapped__"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__dict__["__wrapped__"], name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.__dict__["__wrapped__"])) | set(self.__dict__))

    def __repr__(self) -> str:
        return f"<dejacache wrapped {self.__dict__['__wrapped__']!r}>"


def cached_method(endpoint: Any, ctx: WrapContext, original: Any, streams: Any, is_async: bool) -> Any:
    if is_async:

        async def acreate(**kwargs: Any) -> Any:
            return await create_async(endpoint, ctx, original, streams, kwargs)

        return functools.wraps(original)(acreate)

    def create(**kwargs: Any) -> Any:
        return create_sync(endpoint, ctx, original, streams, kwargs)

    return functools.wraps(original)(create)


def raw_root(client: Any, **cached: Any) -> Any:
    """``client.with_raw_response`` with the cached raw methods reachable from it too."""
    return Passthrough(client.with_raw_response, **cached)
