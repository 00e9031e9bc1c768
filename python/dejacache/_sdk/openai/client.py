"""What ``dejacache.wrap`` replaces on an OpenAI client: its cacheable methods, bound to a context."""

from __future__ import annotations

import functools
from typing import Any

from ..base import WrapContext
from ..helpers import helper_method
from ..passthrough import Passthrough, cached_method, raw_root
from ..raw import raw_method
from .embeddings import embeddings_async, embeddings_sync
from .endpoints import CHAT, COMPLETIONS, RESPONSES
from .helpers import CHAT_PARSE, CHAT_STREAM, RESPONSES_PARSE, RESPONSES_STREAM
from .raw import raw_chat_answers
from .streams import OMIT_TYPES, STREAMS


def overrides(c: Any, cache: Any, options: dict[str, Any], is_async: bool) -> tuple[WrapContext, dict[str, Any]]:
    """The wrapping context and the attributes that replace the client's own."""
    namespace, scope_by_api_key = options["namespace"], options["scope_by_api_key"]
    replay_chunk_chars, stream_usage = options["replay_chunk_chars"], options["stream_usage"]
    ctx = WrapContext(
        cache,
        "openai:" + str(c.base_url),
        str(c.base_url),
        namespace,
        c.api_key,
        bool(scope_by_api_key),
        replay_chunk_chars,
        bool(stream_usage),
        OMIT_TYPES,
        options,
    )
    streams = STREAMS
    completions = c.chat.completions
    raw_chat = Passthrough(
        completions.with_raw_response,
        create=raw_method(CHAT, ctx, completions.with_raw_response.create, raw_chat_answers(c), is_async),
    )
    chat = Passthrough(
        c.chat,
        completions=Passthrough(
            completions,
            with_raw_response=raw_chat,
            create=cached_method(CHAT, ctx, completions.create, streams, is_async),
            stream=helper_method(CHAT_STREAM, CHAT, ctx, completions.stream, completions.create, streams, is_async),
            parse=helper_method(CHAT_PARSE, CHAT, ctx, completions.parse, completions.create, streams, is_async),
        ),
    )
    replaced = {
        "chat": chat,
        "completions": Passthrough(
            c.completions, create=cached_method(COMPLETIONS, ctx, c.completions.create, streams, is_async)
        ),
        "embeddings": Passthrough(c.embeddings, create=embeddings_method(ctx, c.embeddings.create, is_async)),
        "responses": Passthrough(
            c.responses,
            create=cached_method(RESPONSES, ctx, c.responses.create, streams, is_async),
            stream=helper_method(
                RESPONSES_STREAM, RESPONSES, ctx, c.responses.stream, c.responses.create, streams, is_async
            ),
            parse=helper_method(
                RESPONSES_PARSE, RESPONSES, ctx, c.responses.parse, c.responses.create, streams, is_async
            ),
        ),
        "with_raw_response": raw_root(c, chat=Passthrough(c.with_raw_response.chat, completions=raw_chat)),
    }
    return ctx, replaced


def embeddings_method(ctx: WrapContext, original: Any, is_async: bool) -> Any:
    if is_async:

        async def acreate(**kwargs: Any) -> Any:
            return await embeddings_async(ctx, original, kwargs)

        return functools.wraps(original)(acreate)

    def create(**kwargs: Any) -> Any:
        return embeddings_sync(ctx, original, kwargs)

    return functools.wraps(original)(create)
