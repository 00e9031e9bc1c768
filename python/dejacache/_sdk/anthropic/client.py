"""What ``dejacache.wrap`` replaces on an Anthropic client: its cacheable methods, bound to a context."""

from __future__ import annotations

from typing import Any

from ..base import WrapContext
from ..helpers import helper_method
from ..passthrough import Passthrough, cached_method, raw_root
from ..raw import raw_method
from .messages import MESSAGES, MESSAGES_PARSE, MESSAGES_STREAM, OMIT_TYPES, STREAMS, raw_messages_answers


def overrides(c: Any, cache: Any, options: dict[str, Any], is_async: bool) -> tuple[WrapContext, dict[str, Any]]:
    """The wrapping context and the attributes that replace the client's own."""
    namespace, scope_by_api_key = options["namespace"], options["scope_by_api_key"]
    replay_chunk_chars, stream_usage = options["replay_chunk_chars"], options["stream_usage"]
    ctx = WrapContext(
        cache,
        "anthropic:" + str(c.base_url),
        str(c.base_url),
        namespace,
        c.api_key or c.auth_token,
        bool(scope_by_api_key),
        replay_chunk_chars,
        bool(stream_usage),
        OMIT_TYPES,
        options,
    )
    raw_messages = Passthrough(
        c.messages.with_raw_response,
        create=raw_method(
            MESSAGES,
            ctx,
            c.messages.with_raw_response.create,
            raw_messages_answers(c, is_async),
            is_async,
        ),
    )
    replaced = {
        "with_raw_response": raw_root(c, messages=raw_messages),
        "messages": Passthrough(
            c.messages,
            with_raw_response=raw_messages,
            create=cached_method(MESSAGES, ctx, c.messages.create, STREAMS, is_async),
            stream=helper_method(
                MESSAGES_STREAM,
                MESSAGES,
                ctx,
                c.messages.stream,
                c.messages.create,
                STREAMS,
                is_async,
            ),
            parse=helper_method(MESSAGES_PARSE, MESSAGES, ctx, c.messages.parse, c.messages.create, STREAMS, is_async),
        ),
    }
    return ctx, replaced
