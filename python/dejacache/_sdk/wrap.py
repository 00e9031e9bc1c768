"""``dejacache.wrap``: an OpenAI or Anthropic SDK client whose calls go through a ``Cache``."""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from .base import WrapContext
from .passthrough import Passthrough

ClientT = TypeVar("ClientT")

#: (SDK package, client class) -> (the module whose ``overrides()`` wraps it, is it async)
_SDK_CLASSES = {
    ("openai", "OpenAI"): ("dejacache._sdk.openai.client", False),
    ("openai", "AsyncOpenAI"): ("dejacache._sdk.openai.client", True),
    ("anthropic", "Anthropic"): ("dejacache._sdk.anthropic.client", False),
    ("anthropic", "AsyncAnthropic"): ("dejacache._sdk.anthropic.client", True),
}


class WrappedClient(Passthrough):
    """An SDK client whose cacheable methods answer from the cache. ``__wrapped__`` is the
    original client; ``with_options`` / ``copy`` return wrapped clients too."""

    def __enter__(self) -> WrappedClient:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.__wrapped__.__exit__(*exc)

    async def __aenter__(self) -> WrappedClient:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.__wrapped__.__aexit__(*exc)

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        ctx: WrapContext = self.__dict__["_dejacache_context"]
        return wrap(self.__wrapped__.with_options(*args, **kwargs), ctx.cache, **ctx.options)

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        ctx: WrapContext = self.__dict__["_dejacache_context"]
        return wrap(self.__wrapped__.copy(*args, **kwargs), ctx.cache, **ctx.options)


def _identify(client: Any) -> tuple[str, bool]:
    for cls in type(client).__mro__:
        found = _SDK_CLASSES.get((cls.__module__.split(".")[0], cls.__name__))
        if found is not None:
            return found
    raise TypeError(
        f"dejacache.wrap supports openai.OpenAI, openai.AsyncOpenAI, anthropic.Anthropic and "
        f"anthropic.AsyncAnthropic clients (and their subclasses), not {type(client).__name__}; "
        "for other clients call cache.call(request, llm) around your own function"
    )


def wrap(
    client: ClientT,
    cache: Any,
    *,
    namespace: str | None = None,
    scope_by_api_key: bool = False,
    replay_chunk_chars: int = 32,
    stream_usage: bool = True,
) -> ClientT:
    """``client`` with its calls answered from ``cache`` when it has seen them.

    Cached: OpenAI ``chat.completions.create``, ``completions.create``, ``embeddings.create``
    (per input item), ``responses.create``; Anthropic ``messages.create``; each with
    ``stream=True`` too; the SDK helpers OpenAI ``chat.completions.stream`` / ``.parse``,
    ``responses.stream`` / ``.parse`` and Anthropic ``messages.stream`` / ``.parse``; and
    ``chat.completions.with_raw_response.create`` / ``messages.with_raw_response.create``
    (hits are the SDK's raw-response class, header ``x-dejacache: exact`` or ``semantic``). All of these share
    entries with ``create`` calls that send the same body. Everything else passes straight to the client. Answers are the SDK's
    own types; a hit carries ``cache=True`` (read it with ``getattr(r, "cache", False)``).
    Identical calls made while one is under way wait for it (streamed ones too) instead of
    calling the provider again.
    Each call also takes dejacache's controls: ``caching=False``, ``cache={"no-cache": True}``,
    ``{"no-store": True}``, ``{"ttl": s}``, ``{"s-maxage": s}``, ``{"namespace": "x"}``.

    >>> client = dejacache.wrap(openai.OpenAI(), dejacache.Cache())        # doctest: +SKIP
    >>> r = client.chat.completions.create(model="gpt-4o-mini", messages=msgs)  # doctest: +SKIP
    >>> getattr(client.chat.completions.create(model="gpt-4o-mini", messages=msgs), "cache", False)  # doctest: +SKIP
    True

    Args:
        client: an ``openai.OpenAI`` / ``AsyncOpenAI`` (also with a ``base_url`` of DeepSeek or
            another OpenAI-compatible service) or ``anthropic.Anthropic`` / ``AsyncAnthropic``.
        cache: the ``dejacache.Cache`` to use.
        namespace: the tenant for this client's entries (default: the cache's).
        scope_by_api_key: keep each API key's entries apart, in a namespace suffixed with a
            hash of the key (the key itself is never stored).
        replay_chunk_chars: characters of text per chunk when a hit is replayed as a stream.
        stream_usage: ask OpenAI-style streams for usage (``stream_options.include_usage``) so
            entries stored from streams know their tokens and cost; the extra usage chunk is
            shown to the caller only when they asked for it.
    """
    from .._cache import Cache

    if isinstance(client, WrappedClient):
        raise TypeError("this client is already wrapped by dejacache; wrap the original client")
    if not isinstance(cache, Cache):
        raise TypeError(f"cache must be a dejacache.Cache, not {type(cache).__name__}")
    if isinstance(replay_chunk_chars, bool) or not isinstance(replay_chunk_chars, int) or replay_chunk_chars < 1:
        raise ValueError(f"replay_chunk_chars must be a whole number >= 1, not {replay_chunk_chars!r}")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise ValueError(f"namespace must be a non-empty string or None, not {namespace!r}")
    module_name, is_async = _identify(client)
    options = {
        "namespace": namespace,
        "scope_by_api_key": bool(scope_by_api_key),
        "replay_chunk_chars": replay_chunk_chars,
        "stream_usage": bool(stream_usage),
    }
    ctx, replaced = importlib.import_module(module_name).overrides(client, cache, options, is_async)
    return WrappedClient(client, _dejacache_context=ctx, **replaced)  # type: ignore[return-value]
