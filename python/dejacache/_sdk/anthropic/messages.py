"""Anthropic: ``messages.create``, plain and streamed. Imports ``anthropic``; loaded only when an
Anthropic client is wrapped."""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import anthropic
from anthropic.types import Message, RawMessageStreamEvent

from ..base import Endpoint, dump, rebuild, split_text
from ..helpers import ParseHelper, StreamHelper, expect_parameters, parameter_names
from ..raw import RawAnswers
from ..stream_replay import Assembler, empty_http_response, stream_classes

OMIT_TYPES = (anthropic.NotGiven, anthropic.Omit)
STREAMS = stream_classes(anthropic.Stream, anthropic.AsyncStream, empty_http_response)

#: Streamed text-like deltas: delta type -> (field of the delta, field of the block it grows).
_TEXT_DELTAS = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "input_json_delta": ("partial_json", "_partial_json"),
}


class MessageAssembler(Assembler):
    """message_start -> content blocks (start, deltas, stop) -> message_delta -> message_stop."""

    def __init__(self) -> None:
        self.message: dict | None = None
        self.stopped = False

    def add(self, event: Any) -> bool:
        data = dump(event)
        kind = data.get("type")
        if kind == "message_start":
            self.message = dict(data["message"])
            self.message["content"] = list(self.message.get("content") or [])
        elif self.message is None:
            return True
        elif kind == "content_block_start":
            blocks = self.message["content"]
            idx = data.get("index", len(blocks))
            while len(blocks) <= idx:
                blocks.append(None)
            blocks[idx] = dict(data["content_block"])
        elif kind == "content_block_delta":
            block = self.message["content"][data["index"]]
            delta = data["delta"]
            dtype = delta.get("type")
            if dtype in _TEXT_DELTAS:
                src, dst = _TEXT_DELTAS[dtype]
                block[dst] = (block.get(dst) or "") + (delta.get(src) or "")
            elif dtype == "signature_delta":
                block["signature"] = delta.get("signature")
            elif dtype == "citations_delta":
                block.setdefault("citations", []).append(delta.get("citation"))
            else:
                for name, value in delta.items():
                    if name != "type":
                        block[name] = value
        elif kind == "content_block_stop":
            block = self.message["content"][data["index"]]
            partial = block.pop("_partial_json", None)
            if partial is not None:
                block["input"] = json.loads(partial) if partial else {}
        elif kind == "message_delta":
            for name, value in (data.get("delta") or {}).items():
                self.message[name] = value
            usage = dict(self.message.get("usage") or {})
            usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            self.message["usage"] = usage
        elif kind == "message_stop":
            self.stopped = True
        return True

    def result(self) -> dict | None:
        if not self.stopped or self.message is None or any(b is None for b in self.message["content"]):
            return None
        return self.message


_BLOCK_START = {
    "text": lambda b: {**b, "text": "", **({"citations": []} if "citations" in b else {})},
    "thinking": lambda b: {**b, "thinking": "", "signature": ""},
    "tool_use": lambda b: {**b, "input": {}},
    "server_tool_use": lambda b: {**b, "input": {}},
}


def _block_deltas(block: dict, chunk_chars: int) -> list[dict]:
    kind = block.get("type")
    if kind == "text":
        deltas = [{"type": "text_delta", "text": p} for p in split_text(block.get("text") or "", chunk_chars)]
        deltas += [{"type": "citations_delta", "citation": c} for c in block.get("citations") or []]
        return deltas
    if kind == "thinking":
        deltas = [
            {"type": "thinking_delta", "thinking": p} for p in split_text(block.get("thinking") or "", chunk_chars)
        ]
        return deltas + [{"type": "signature_delta", "signature": block.get("signature") or ""}]
    if kind in ("tool_use", "server_tool_use"):
        text = json.dumps(block.get("input") or {}, separators=(",", ":"), ensure_ascii=False)
        return [{"type": "input_json_delta", "partial_json": p} for p in split_text(text, chunk_chars)]
    return []  # blocks sent whole in content_block_start (tool results, redacted thinking)


_EVENT_CLASSES = {
    typing.get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in typing.get_args(typing.get_args(RawMessageStreamEvent)[0])
}


def _build_event(data: dict) -> Any:
    return rebuild(_EVENT_CLASSES[data["type"]], data)


class MessagesEndpoint(Endpoint):
    name = "anthropic.messages"

    def response_cls(self) -> type:
        return Message

    def assembler(self, kwargs: dict) -> Assembler:
        return MessageAssembler()

    def replay(self, stored: dict, kwargs: dict, chunk_chars: int) -> list[dict]:
        usage = dict(stored.get("usage") or {})
        start_usage = {**usage, "output_tokens": 0}
        # The message carries the hit marker too: stream helpers build their final message from it.
        events: list[dict] = [
            {
                "type": "message_start",
                "message": {
                    **stored,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                    "cache": True,
                },
            }
        ]
        for idx, block in enumerate(stored.get("content") or []):
            start = _BLOCK_START.get(block.get("type"), dict)(block)
            events.append({"type": "content_block_start", "index": idx, "content_block": start})
            for delta in _block_deltas(block, chunk_chars):
                events.append({"type": "content_block_delta", "index": idx, "delta": delta})
            events.append({"type": "content_block_stop", "index": idx})
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stored.get("stop_reason"), "stop_sequence": stored.get("stop_sequence")},
                "usage": usage,
            }
        )
        events.append({"type": "message_stop"})
        return events

    def event_builder(self) -> Any:
        return _build_event


MESSAGES = MessagesEndpoint()


# -- messages.stream() and messages.parse() -------------------------------------------------


@lru_cache(maxsize=1)
def _helper_parts() -> Any:
    """The SDK pieces ``messages.stream()`` / ``.parse()`` are made of, or the reason they are
    not as expected."""
    try:
        from anthropic._models import TypeAdapter
        from anthropic.lib._parse._response import parse_response
        from anthropic.lib._parse._transform import cached_json_schema, transform_schema
        from anthropic.lib._stainless_helpers import (
            HELPER_METHOD_STREAM,
            STAINLESS_HELPER_HEADER,
            STAINLESS_HELPER_METHOD_HEADER,
            STAINLESS_STREAM_HELPER_HEADER,
        )
        from anthropic.lib.streaming import AsyncMessageStreamManager, MessageStreamManager
    except ImportError as exc:
        return f"cannot import {exc.name or exc}"
    for cls in (MessageStreamManager, AsyncMessageStreamManager):
        reason = expect_parameters(cls, ["api_request", "output_format"])
        if reason is not None:
            return reason
    if set(parameter_names(parse_response) or ()) != {"output_format", "response"}:
        return "parse_response takes other arguments"

    def output_format_param(output_format: Any) -> dict:
        return {"type": "json_schema", "schema": transform_schema(cached_json_schema(TypeAdapter(output_format)))}

    return SimpleNamespace(
        manager=MessageStreamManager,
        async_manager=AsyncMessageStreamManager,
        parse=parse_response,
        output_format_param=output_format_param,
        stream_headers={
            STAINLESS_HELPER_METHOD_HEADER: HELPER_METHOD_STREAM,
            STAINLESS_STREAM_HELPER_HEADER: "messages",
        },
        parse_headers={STAINLESS_HELPER_HEADER: "messages.parse"},
    )


class _MessagesHelper:
    def unsupported(self) -> str | None:
        parts = _helper_parts()
        return parts if isinstance(parts, str) else None

    def to_create(self, kwargs: dict, headers: dict) -> tuple[dict, Any]:
        """``messages.create`` arguments sending the body the SDK's helper sends:
        ``output_format`` (a type) becomes ``output_config.format`` (its JSON schema), so entries
        are keyed by the schema actually sent."""
        output_format = kwargs.pop("output_format", anthropic.omit)
        if not isinstance(output_format, OMIT_TYPES) and output_format is not None:
            if isinstance(output_format, Mapping):
                raise TypeError(
                    "`output_format` must be a type; pass a schema dict as `output_config={'format': ...}` instead"
                )
            config = kwargs.get("output_config")
            config = dict(config) if isinstance(config, Mapping) else {}
            config["format"] = _helper_parts().output_format_param(output_format)
            kwargs["output_config"] = config
        else:
            output_format = anthropic.NOT_GIVEN
        kwargs["extra_headers"] = {**headers, **(kwargs.get("extra_headers") or {})}
        return kwargs, output_format


class MessagesStreamHelper(_MessagesHelper, StreamHelper):
    """``messages.stream(...)``: the SDK's ``MessageStreamManager`` over the wrapped
    ``messages.create(stream=True)``."""

    label = "anthropic messages.stream()"

    def split(self, kwargs: dict, is_async: bool) -> tuple[dict, Any]:
        create_kwargs, output_format = self.to_create(kwargs, _helper_parts().stream_headers)
        create_kwargs["stream"] = True
        return create_kwargs, output_format

    def manager(self, request: Any, output_format: Any, is_async: bool) -> Any:
        sdk = _helper_parts()
        return (sdk.async_manager if is_async else sdk.manager)(request, output_format=output_format)


class MessagesParseHelper(_MessagesHelper, ParseHelper):
    """``messages.parse(...)``: the SDK's ``parse_response`` over the wrapped ``messages.create()``'s
    answer, so a hit's ``parsed_output`` is made with the caller's own type."""

    label = "anthropic messages.parse()"

    def split(self, kwargs: dict, is_async: bool) -> tuple[dict, Any]:
        return self.to_create(kwargs, _helper_parts().parse_headers)

    def finish(self, answer: Any, output_format: Any) -> Any:
        return _helper_parts().parse(response=answer, output_format=output_format)


MESSAGES_STREAM, MESSAGES_PARSE = MessagesStreamHelper(), MessagesParseHelper()


def raw_messages_answers(client: Any, is_async: bool) -> RawAnswers:
    """Raw responses of ``messages.with_raw_response.create``."""

    def classes() -> tuple[type, type, type]:
        from anthropic._models import FinalRequestOptions
        from anthropic._response import APIResponse, AsyncAPIResponse

        return AsyncAPIResponse if is_async else APIResponse, FinalRequestOptions, Message

    return RawAnswers("anthropic messages.with_raw_response.create()", client, classes, "/v1/messages")
