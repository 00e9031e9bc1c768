"""``dejacache.wrap``: an OpenAI or Anthropic SDK client whose calls go through a ``Cache``."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from .providers._base import WrapContext, create_async, create_sync
from .providers._helpers import helper_method
from .providers._raw import raw_method

ClientT = TypeVar("ClientT")

_SDK_CLASSES = {
    ("openai", "OpenAI"): ("openai", False),
    ("openai", "AsyncOpenAI"): ("openai", True),
    ("anthropic", "Anthropic"): ("anthropic", False),
    ("anthropic", "AsyncAnthropic"): ("anthropic", True),
}


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


def _method(endpoint: Any, ctx: WrapContext, original: Any, streams: Any, is_async: bool) -> Any:
    if is_async:

        async def acreate(**kwargs: Any) -> Any:
            return await create_async(endpoint, ctx, original, streams, kwargs)

        return functools.wraps(original)(acreate)

    def create(**kwargs: Any) -> Any:
        return create_sync(endpoint, ctx, original, streams, kwargs)

    return functools.wraps(original)(create)


def _embeddings_method(ctx: WrapContext, original: Any, is_async: bool) -> Any:
    from .providers._openai import embeddings_async, embeddings_sync

    if is_async:

        async def acreate(**kwargs: Any) -> Any:
            return await embeddings_async(ctx, original, kwargs)

        return functools.wraps(original)(acreate)

    def create(**kwargs: Any) -> Any:
        return embeddings_sync(ctx, original, kwargs)

    return functools.wraps(original)(create)


def _raw_root(client: Any, **cached: Any) -> Any:
    """``client.with_raw_response`` with the cached raw methods reachable from it too."""
    return Passthrough(client.with_raw_response, **cached)


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
    (hits are the SDK's raw-response class, header ``x-dejacache: hit``). All of these share
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
    from ._cache import Cache

    if isinstance(client, WrappedClient):
        raise TypeError("this client is already wrapped by dejacache; wrap the original client")
    if not isinstance(cache, Cache):
        raise TypeError(f"cache must be a dejacache.Cache, not {type(cache).__name__}")
    if isinstance(replay_chunk_chars, bool) or not isinstance(replay_chunk_chars, int) or replay_chunk_chars < 1:
        raise ValueError(f"replay_chunk_chars must be a whole number >= 1, not {replay_chunk_chars!r}")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        raise ValueError(f"namespace must be a non-empty string or None, not {namespace!r}")
    sdk, is_async = _identify(client)
    options = {
        "namespace": namespace,
        "scope_by_api_key": bool(scope_by_api_key),
        "replay_chunk_chars": replay_chunk_chars,
        "stream_usage": bool(stream_usage),
    }
    c: Any = client
    if sdk == "openai":
        from .providers import _openai as mod

        ctx = WrapContext(
            cache,
            "openai:" + str(c.base_url),
            str(c.base_url),
            namespace,
            c.api_key,
            bool(scope_by_api_key),
            replay_chunk_chars,
            bool(stream_usage),
            mod.OMIT_TYPES,
            options,
        )
        streams = mod.STREAMS
        completions = c.chat.completions
        raw_chat = Passthrough(
            completions.with_raw_response,
            create=raw_method(mod.CHAT, ctx, completions.with_raw_response.create, mod.raw_chat_answers(c), is_async),
        )
        chat = Passthrough(
            c.chat,
            completions=Passthrough(
                completions,
                with_raw_response=raw_chat,
                create=_method(mod.CHAT, ctx, completions.create, streams, is_async),
                stream=helper_method(
                    mod.CHAT_STREAM, mod.CHAT, ctx, completions.stream, completions.create, streams, is_async
                ),
                parse=helper_method(
                    mod.CHAT_PARSE, mod.CHAT, ctx, completions.parse, completions.create, streams, is_async
                ),
            ),
        )
        overrides = {
            "chat": chat,
            "completions": Passthrough(
                c.completions, create=_method(mod.COMPLETIONS, ctx, c.completions.create, streams, is_async)
            ),
            "embeddings": Passthrough(c.embeddings, create=_embeddings_method(ctx, c.embeddings.create, is_async)),
            "responses": Passthrough(
                c.responses,
                create=_method(mod.RESPONSES, ctx, c.responses.create, streams, is_async),
                stream=helper_method(
                    mod.RESPONSES_STREAM, mod.RESPONSES, ctx, c.responses.stream, c.responses.create, streams, is_async
                ),
                parse=helper_method(
                    mod.RESPONSES_PARSE, mod.RESPONSES, ctx, c.responses.parse, c.responses.create, streams, is_async
                ),
            ),
            "with_raw_response": _raw_root(c, chat=Passthrough(c.with_raw_response.chat, completions=raw_chat)),
        }
    else:
        from .providers import _anthropic as amod

        ctx = WrapContext(
            cache,
            "anthropic:" + str(c.base_url),
            str(c.base_url),
            namespace,
            c.api_key or c.auth_token,
            bool(scope_by_api_key),
            replay_chunk_chars,
            bool(stream_usage),
            amod.OMIT_TYPES,
            options,
        )
        raw_messages = Passthrough(
            c.messages.with_raw_response,
            create=raw_method(
                amod.MESSAGES,
                ctx,
                c.messages.with_raw_response.create,
                amod.raw_messages_answers(c, is_async),
                is_async,
            ),
        )
        overrides = {
            "with_raw_response": _raw_root(c, messages=raw_messages),
            "messages": Passthrough(
                c.messages,
                with_raw_response=raw_messages,
                create=_method(amod.MESSAGES, ctx, c.messages.create, amod.STREAMS, is_async),
                stream=helper_method(
                    amod.MESSAGES_STREAM,
                    amod.MESSAGES,
                    ctx,
                    c.messages.stream,
                    c.messages.create,
                    amod.STREAMS,
                    is_async,
                ),
                parse=helper_method(
                    amod.MESSAGES_PARSE, amod.MESSAGES, ctx, c.messages.parse, c.messages.create, amod.STREAMS, is_async
                ),
            ),
        }
    return WrappedClient(client, _dejacache_context=ctx, **overrides)  # type: ignore[return-value]
