"""SDK helper methods rebuilt over the cached ``create``: Anthropic ``messages.stream()`` and
``messages.parse()``, OpenAI ``chat.completions.stream()`` and ``chat.completions.parse()``.

The SDKs build these helpers over their own ``create(stream=True)`` / ``create()``: a stream
manager fed a raw event stream, or a parse function applied to a plain answer. We build the same
SDK objects over the wrapped ``create``, so a hit is the SDK's own ``MessageStream`` /
``ChatCompletionStream`` / ``ParsedMessage`` / ``ParsedChatCompletion`` made from the replayed
events or the cached answer, and a helper call shares entries with a ``create`` call that sends
the same body.

The pieces we use (stream manager constructors, the SDK's schema and parse functions) are not
all public API. Each helper checks them once per process; when this SDK version differs, or
building a call's ``create`` arguments fails where the SDK's helper succeeds, the helper passes
straight through to the SDK, uncached, with one warning.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

from .base import Endpoint, WrapContext
from .call_paths import create_async, create_sync

_CONTROLS = ("caching", "cache")

_warned: set[str] = set()


def warn_uncached(label: str, reason: str) -> None:
    """One warning per helper and process: the caller's code keeps working, only uncached."""
    if label in _warned:
        return
    _warned.add(label)
    warnings.warn(
        f"dejacache: {label} is not cached with this SDK version ({reason}); its calls go straight to the provider",
        RuntimeWarning,
        stacklevel=3,
    )


def parameter_names(fn: Any) -> list[str] | None:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None


def expect_parameters(cls: type, names: list[str]) -> str | None:
    """None when ``cls(...)`` takes exactly ``names``; else what differs, for the warning."""
    found = parameter_names(cls)
    if found != names:
        return f"{cls.__name__} takes {found}, expected {names}"
    return None


class Helper:
    """One SDK helper method rebuilt over a cached endpoint."""

    #: How warnings name the helper, e.g. ``"anthropic messages.stream()"``.
    label = ""

    def unsupported(self) -> str | None:
        """Why the installed SDK cannot be used this way, or None when it can."""
        raise NotImplementedError

    def split(self, kwargs: dict, is_async: bool) -> tuple[dict, Any]:
        """The helper's arguments as (arguments of the equivalent ``create``, what the helper
        itself keeps, such as the caller's response format type)."""
        raise NotImplementedError

    def cacheable(self, kwargs: dict) -> bool:
        """False for calls the helper serves some other way than ``create`` (e.g. resuming a
        stored response): they go to the SDK's helper, uncached, without a warning."""
        return True


class StreamHelper(Helper):
    """A ``.stream()`` helper: returns the SDK's stream manager over the wrapped
    ``create(stream=True)``; the request is made when the manager is entered, as the SDK does."""

    def manager(self, request: Any, parts: Any, is_async: bool) -> Any:
        raise NotImplementedError


class ParseHelper(Helper):
    """A ``.parse()`` helper: the SDK's parse function over the wrapped ``create()``'s answer."""

    def finish(self, answer: Any, parts: Any) -> Any:
        raise NotImplementedError


def _checker(helper: Helper, original: Callable) -> Callable[[dict], bool]:
    """kwargs -> whether to cache this call (False: pass it to the SDK's helper untouched).

    Arguments are checked against the SDK helper's own signature first, so a misspelt or
    missing argument raises the TypeError the SDK would raise, before anything is sent.
    """
    reason = helper.unsupported()
    try:
        signature: inspect.Signature | None = inspect.signature(original)
    except (TypeError, ValueError):
        signature = None

    def cached(kwargs: dict) -> bool:
        if reason is not None:
            warn_uncached(helper.label, reason)
        if reason is not None or kwargs.get("caching") is False:
            for name in _CONTROLS:
                kwargs.pop(name, None)
            return False
        if signature is not None:
            signature.bind(**{k: v for k, v in kwargs.items() if k not in _CONTROLS})
        if not helper.cacheable(kwargs):
            for name in _CONTROLS:
                kwargs.pop(name, None)
            return False
        return True

    return cached


def _with_controls(create_kwargs: dict, kwargs: dict) -> dict:
    for name in _CONTROLS:
        if name in kwargs:
            create_kwargs[name] = kwargs[name]
    return create_kwargs


def helper_method(
    helper: Helper,
    endpoint: Endpoint,
    ctx: WrapContext,
    original: Callable,
    original_create: Callable,
    streams: Any,
    is_async: bool,
) -> Callable:
    """The wrapped client's version of one SDK helper method (``original``)."""
    cached = _checker(helper, original)

    def plan(kwargs: dict) -> Any:
        """(create arguments, the helper's parts); or, for a call the SDK's helper makes
        uncached (controls removed from ``kwargs``), None or the error building them raised.

        That error goes to the SDK's helper too: for bad input the caller gets the SDK's own
        error, and if the SDK accepts the call our reading of its internals is wrong, which
        must cost the cache, not the call.
        """
        if not cached(kwargs):
            return None
        sdk_kwargs = {k: v for k, v in kwargs.items() if k not in _CONTROLS}
        try:
            create_kwargs, parts = helper.split(sdk_kwargs, is_async)
        except Exception as exc:  # noqa: BLE001 - handed to the SDK's helper, see above
            for name in _CONTROLS:
                kwargs.pop(name, None)
            return exc
        return _with_controls(create_kwargs, kwargs), parts

    def uncached(result: Any, failure: Exception | None) -> Any:
        if failure is not None:
            warn_uncached(helper.label, f"building its request failed: {failure!r}")
        return result

    if isinstance(helper, StreamHelper):
        # .stream() is a plain function on both clients; the async one returns an async manager.
        def stream(**kwargs: Any) -> Any:
            planned = plan(kwargs)
            if not isinstance(planned, tuple):
                return uncached(original(**kwargs), planned)
            create_kwargs, parts = planned
            if is_async:
                request: Any = create_async(endpoint, ctx, original_create, streams, create_kwargs)
            else:
                request = functools.partial(create_sync, endpoint, ctx, original_create, streams, create_kwargs)
            return helper.manager(request, parts, is_async)

        return functools.wraps(original)(stream)

    assert isinstance(helper, ParseHelper)
    if is_async:

        async def aparse(**kwargs: Any) -> Any:
            planned = plan(kwargs)
            if not isinstance(planned, tuple):
                return uncached(await original(**kwargs), planned)
            create_kwargs, parts = planned
            return helper.finish(await create_async(endpoint, ctx, original_create, streams, create_kwargs), parts)

        return functools.wraps(original)(aparse)

    def parse(**kwargs: Any) -> Any:
        planned = plan(kwargs)
        if not isinstance(planned, tuple):
            return uncached(original(**kwargs), planned)
        create_kwargs, parts = planned
        return helper.finish(create_sync(endpoint, ctx, original_create, streams, create_kwargs), parts)

    return functools.wraps(original)(parse)
