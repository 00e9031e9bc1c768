"""OpenAI endpoints: chat completions, completions and responses, as the cache sees them."""

from __future__ import annotations

import typing
from functools import lru_cache
from typing import Any

from openai.types import Completion
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from ..base import Endpoint, WrapContext, rebuild, split_text
from ..cache_control import strip_cache_control
from ..stream_replay import Assembler
from .streams import (
    ChatAssembler,
    ChoicesAssembler,
    CompletionAssembler,
    ResponsesAssembler,
    model_builder,
    usage_asked,
)

_CHUNK_FIELDS = ("id", "created", "model", "system_fingerprint", "service_tier")


def _asks_usage(kwargs: dict, ctx: WrapContext) -> dict:
    if not ctx.stream_usage or usage_asked(kwargs):
        return kwargs
    opts = kwargs.get("stream_options")
    opts = dict(opts) if isinstance(opts, dict) else {}
    opts["include_usage"] = True
    return {**kwargs, "stream_options": opts}


class _StripsMarkers(Endpoint):
    """Requests that may carry Anthropic-style ``cache_control`` markers in messages / input."""

    def prepare(self, kwargs: dict, request: dict, ctx: WrapContext) -> tuple[dict, dict]:
        return strip_cache_control(kwargs, ctx.base_url), strip_cache_control(request, ctx.base_url)


class _ChoicesEndpoint(Endpoint):
    """Chat and text completions: streams of ``choices`` chunks with an optional usage chunk."""

    assembler_cls: type = ChoicesAssembler

    def assembler(self, kwargs: dict) -> Assembler:
        return self.assembler_cls(hide_usage_chunk=not usage_asked(kwargs))

    def stream_kwargs(self, kwargs: dict, ctx: WrapContext) -> dict:
        return _asks_usage(kwargs, ctx)


class ChatEndpoint(_StripsMarkers, _ChoicesEndpoint):
    name = "openai.chat.completions"
    assembler_cls = ChatAssembler

    def response_cls(self) -> type:
        return ChatCompletion

    def replay(self, stored: dict, kwargs: dict, chunk_chars: int) -> list[dict]:
        base = {k: stored[k] for k in _CHUNK_FIELDS if k in stored}
        base["object"] = "chat.completion.chunk"
        out: list[dict] = []

        def chunk(index: int, delta: dict, finish: str | None = None, logprobs: Any = None) -> None:
            out.append(
                {**base, "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": logprobs}]}
            )

        for choice in stored.get("choices") or []:
            idx = choice.get("index", 0)
            message = dict(choice.get("message") or {})
            chunk(idx, {"role": message.pop("role", "assistant"), "content": ""})
            content = message.pop("content", None)
            tool_calls = message.pop("tool_calls", None)
            for name, value in message.items():  # reasoning_content, refusal, audio, ...
                if isinstance(value, str) and value:
                    for piece in split_text(value, chunk_chars):
                        chunk(idx, {name: piece})
                elif value is not None:
                    chunk(idx, {name: value})
            if content:
                for piece in split_text(content, chunk_chars):
                    chunk(idx, {"content": piece})
            for n, call in enumerate(tool_calls or []):
                fn = call.get("function") or {}
                head = {
                    "index": n,
                    "id": call.get("id"),
                    "type": call.get("type", "function"),
                    "function": {"name": fn.get("name"), "arguments": ""},
                }
                chunk(idx, {"tool_calls": [head]})
                for piece in split_text(fn.get("arguments") or "", chunk_chars):
                    chunk(idx, {"tool_calls": [{"index": n, "function": {"arguments": piece}}]})
            chunk(idx, {}, choice.get("finish_reason") or "stop", choice.get("logprobs"))
        if usage_asked(kwargs) and stored.get("usage") is not None:
            out.append({**base, "choices": [], "usage": stored["usage"]})
        return out

    def event_builder(self) -> Any:
        return model_builder(ChatCompletionChunk)


class CompletionEndpoint(_ChoicesEndpoint):
    name = "openai.completions"
    assembler_cls = CompletionAssembler

    def response_cls(self) -> type:
        return Completion

    def replay(self, stored: dict, kwargs: dict, chunk_chars: int) -> list[dict]:
        base = {k: stored[k] for k in _CHUNK_FIELDS if k in stored}
        base["object"] = "text_completion"
        out: list[dict] = []
        for choice in stored.get("choices") or []:
            idx = choice.get("index", 0)
            for piece in split_text(choice.get("text") or "", chunk_chars):
                out.append(
                    {**base, "choices": [{"index": idx, "text": piece, "finish_reason": None, "logprobs": None}]}
                )
            out.append(
                {
                    **base,
                    "choices": [
                        {
                            "index": idx,
                            "text": "",
                            "logprobs": choice.get("logprobs"),
                            "finish_reason": choice.get("finish_reason") or "stop",
                        }
                    ],
                }
            )
        if usage_asked(kwargs) and stored.get("usage") is not None:
            out.append({**base, "choices": [], "usage": stored["usage"]})
        return out

    def event_builder(self) -> Any:
        return model_builder(Completion)


@lru_cache(maxsize=1)
def _response_event_classes() -> dict[str, type]:
    """Responses API event type name -> its SDK class, read from the SDK's own union."""
    union = typing.get_args(ResponseStreamEvent)[0]
    classes = {}
    for cls in typing.get_args(union):
        literal = cls.model_fields["type"].annotation
        for name in typing.get_args(literal):
            classes[name] = cls
    return classes


def _build_response_event(data: dict) -> Any:
    return rebuild(_response_event_classes()[data["type"]], data)


class ResponsesEndpoint(_StripsMarkers):
    name = "openai.responses"

    def response_cls(self) -> type:
        return Response

    def assembler(self, kwargs: dict) -> Assembler:
        return ResponsesAssembler()

    def replay(self, stored: dict, kwargs: dict, chunk_chars: int) -> list[dict]:
        """The event sequence of a streamed response: created, in_progress, for each output
        item added -> (content part added -> text deltas -> text done -> part done) -> done,
        and completed (or incomplete) carrying the whole response."""
        events: list[dict] = []

        def emit(kind: str, **fields: Any) -> None:
            events.append({"type": kind, "sequence_number": len(events), **fields})

        # the responses inside events carry the hit marker too, so the SDK's
        # ResponseStream.get_final_response() (built from them) has it
        pending = {**stored, "status": "in_progress", "output": [], "cache": True}
        emit("response.created", response=pending)
        emit("response.in_progress", response=pending)
        for out_idx, item in enumerate(stored.get("output") or []):
            item_id = item.get("id", "")
            if item.get("type") == "message":
                emit(
                    "response.output_item.added",
                    output_index=out_idx,
                    item={**item, "status": "in_progress", "content": []},
                )
                for part_idx, part in enumerate(item.get("content") or []):
                    kind = part.get("type")
                    field = "text" if kind == "output_text" else "refusal" if kind == "refusal" else None
                    if field is None:
                        continue
                    empty = {**part, field: ""}
                    if kind == "output_text":
                        empty["annotations"] = []
                    emit(
                        "response.content_part.added",
                        item_id=item_id,
                        output_index=out_idx,
                        content_index=part_idx,
                        part=empty,
                    )
                    delta_kind = "response.output_text.delta" if field == "text" else "response.refusal.delta"
                    done_kind = "response.output_text.done" if field == "text" else "response.refusal.done"
                    extra: dict[str, Any] = {"logprobs": []} if field == "text" else {}
                    for piece in split_text(part.get(field) or "", chunk_chars):
                        emit(
                            delta_kind,
                            item_id=item_id,
                            output_index=out_idx,
                            content_index=part_idx,
                            delta=piece,
                            **extra,
                        )
                    emit(
                        done_kind,
                        item_id=item_id,
                        output_index=out_idx,
                        content_index=part_idx,
                        **{field: part.get(field) or ""},
                        **extra,
                    )
                    emit(
                        "response.content_part.done",
                        item_id=item_id,
                        output_index=out_idx,
                        content_index=part_idx,
                        part=part,
                    )
            else:
                emit("response.output_item.added", output_index=out_idx, item=item)
            emit("response.output_item.done", output_index=out_idx, item=item)
        final = "response.incomplete" if stored.get("status") == "incomplete" else "response.completed"
        emit(final, response={**stored, "cache": True})
        return events

    def event_builder(self) -> Any:
        return _build_response_event


CHAT, COMPLETIONS, RESPONSES = ChatEndpoint(), CompletionEndpoint(), ResponsesEndpoint()
