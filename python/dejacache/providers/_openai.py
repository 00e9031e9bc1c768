"""OpenAI (and OpenAI-compatible services via ``base_url``): chat, completions, embeddings,
responses. Imports ``openai``; loaded only when an OpenAI client is wrapped."""

from __future__ import annotations

import time
import typing
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import openai
import orjson
from openai.types import Completion, CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from .._cache_control import strip_cache_control
from .._cost import call_meta
from ._base import Endpoint, WrapContext, build_request, dump, log, pop_controls, rebuild, split_text
from ._helpers import ParseHelper, StreamHelper, expect_parameters, parameter_names
from ._raw import RawAnswers
from ._stream_replay import Assembler, empty_http_response, stream_classes

OMIT_TYPES = (openai.NotGiven, openai.Omit)
STREAMS = stream_classes(openai.Stream, openai.AsyncStream, empty_http_response)


def _usage_asked(kwargs: dict) -> bool:
    opts = kwargs.get("stream_options")
    return isinstance(opts, dict) and bool(opts.get("include_usage"))


def _merge(target: dict, delta: dict) -> None:
    """Adds one streamed delta into the message being assembled: text fields concatenate,
    nested objects merge, tool calls merge by their index, anything else is replaced."""
    for name, value in delta.items():
        if value is None:
            target.setdefault(name, None)
        elif name == "tool_calls":
            calls = target.get("tool_calls") or []
            for part in value:
                idx = part.get("index", len(calls))
                while len(calls) <= idx:
                    calls.append({})
                part = {k: v for k, v in part.items() if k != "index"}
                _merge_call(calls[idx], part)
            target["tool_calls"] = calls
        elif name == "role" or not isinstance(value, (str, dict, list)):
            target[name] = value
        elif isinstance(value, str):
            target[name] = (target.get(name) or "") + value
        elif isinstance(value, dict):
            inner = target.get(name)
            if not isinstance(inner, dict):
                inner = target[name] = {}
            _merge(inner, value)
        else:
            target[name] = (target.get(name) or []) + value


def _merge_call(call: dict, part: dict) -> None:
    for name, value in part.items():
        if name == "function" and isinstance(value, dict):
            fn = call.setdefault("function", {})
            for k, v in value.items():
                if k == "arguments" and isinstance(v, str):
                    fn[k] = (fn.get(k) or "") + v
                elif v is not None or k not in fn:
                    fn[k] = v
        elif value is not None or name not in call:
            call[name] = value


def _merge_logprobs(target: dict, logprobs: dict | None) -> None:
    if not logprobs:
        return
    current = target.get("logprobs") or {}
    for name, value in logprobs.items():
        if isinstance(value, list):
            current[name] = (current.get(name) or []) + value
        elif name not in current:
            current[name] = value
    target["logprobs"] = current


class _ChoicesAssembler(Assembler):
    """Shared by chat and text completions: chunks carry ``choices`` and a final ``usage``."""

    answer_object = ""

    def __init__(self, hide_usage_chunk: bool):
        self.base: dict | None = None
        self.choices: dict[int, dict] = {}
        self.usage: dict | None = None
        self.hide_usage_chunk = hide_usage_chunk

    def add(self, chunk: Any) -> bool:
        data = dump(chunk)
        if self.base is None:
            self.base = {k: v for k, v in data.items() if k not in ("choices", "usage", "object")}
        choices = data.get("choices") or []
        for c in choices:
            self.add_choice(c)
        if data.get("usage"):
            self.usage = data["usage"]
            if not choices and self.hide_usage_chunk:
                return False
        return True

    def add_choice(self, c: dict) -> None:
        raise NotImplementedError

    def result(self) -> dict | None:
        if self.base is None or not self.choices:
            return None
        if any(c.get("finish_reason") is None for c in self.choices.values()):
            return None  # the provider stopped before finishing: not an answer to keep
        answer = {**self.base, "object": self.answer_object, "choices": [self.choices[i] for i in sorted(self.choices)]}
        if self.usage is not None:
            answer["usage"] = self.usage
        return answer


class ChatAssembler(_ChoicesAssembler):
    answer_object = "chat.completion"

    def add_choice(self, c: dict) -> None:
        idx = c.get("index", 0)
        choice = self.choices.get(idx)
        if choice is None:
            choice = self.choices[idx] = {
                "index": idx,
                "message": {"role": "assistant", "content": None},
                "finish_reason": None,
                "logprobs": None,
            }
        delta = c.get("delta")
        if delta:
            _merge(choice["message"], delta)
        if c.get("finish_reason") is not None:
            choice["finish_reason"] = c["finish_reason"]
        _merge_logprobs(choice, c.get("logprobs"))


class CompletionAssembler(_ChoicesAssembler):
    answer_object = "text_completion"

    def add_choice(self, c: dict) -> None:
        idx = c.get("index", 0)
        choice = self.choices.get(idx)
        if choice is None:
            choice = self.choices[idx] = {"index": idx, "text": "", "finish_reason": None, "logprobs": None}
        choice["text"] += c.get("text") or ""
        if c.get("finish_reason") is not None:
            choice["finish_reason"] = c["finish_reason"]
        _merge_logprobs(choice, c.get("logprobs"))


class ResponsesAssembler(Assembler):
    """The Responses API sends the whole answer in its last event; keep that."""

    def __init__(self) -> None:
        self.answer: dict | None = None

    def add(self, event: Any) -> bool:
        if event.type in ("response.completed", "response.incomplete"):
            self.answer = dump(event.response)
        return True

    def result(self) -> dict | None:
        return self.answer


def _builder(cls: type) -> Any:
    def build(data: dict) -> Any:
        return rebuild(cls, data)

    return build


_CHUNK_FIELDS = ("id", "created", "model", "system_fingerprint", "service_tier")


def _asks_usage(kwargs: dict, ctx: WrapContext) -> dict:
    if not ctx.stream_usage or _usage_asked(kwargs):
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

    assembler_cls: type = _ChoicesAssembler

    def assembler(self, kwargs: dict) -> Assembler:
        return self.assembler_cls(hide_usage_chunk=not _usage_asked(kwargs))

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
        if _usage_asked(kwargs) and stored.get("usage") is not None:
            out.append({**base, "choices": [], "usage": stored["usage"]})
        return out

    def event_builder(self) -> Any:
        return _builder(ChatCompletionChunk)


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
        if _usage_asked(kwargs) and stored.get("usage") is not None:
            out.append({**base, "choices": [], "usage": stored["usage"]})
        return out

    def event_builder(self) -> Any:
        return _builder(Completion)


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
                    extra = {"logprobs": []} if field == "text" else {}
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


# -- chat.completions.stream() and .parse() -------------------------------------------------


@lru_cache(maxsize=1)
def _chat_helper_parts() -> Any:
    """The SDK pieces ``chat.completions.stream()`` / ``.parse()`` are made of, or the reason
    they are not as expected."""
    try:
        from openai.lib._parsing import parse_chat_completion, type_to_response_format_param, validate_input_tools
        from openai.lib.streaming.chat import AsyncChatCompletionStreamManager, ChatCompletionStreamManager
    except ImportError as exc:
        return f"cannot import {exc.name or exc}"
    for cls in (ChatCompletionStreamManager, AsyncChatCompletionStreamManager):
        reason = expect_parameters(cls, ["api_request", "response_format", "input_tools"])
        if reason is not None:
            return reason
    if set(parameter_names(parse_chat_completion) or ()) != {"response_format", "input_tools", "chat_completion"}:
        return "parse_chat_completion takes other arguments"
    return SimpleNamespace(
        parse=parse_chat_completion,
        response_format_param=type_to_response_format_param,
        validate_tools=validate_input_tools,
        manager=ChatCompletionStreamManager,
        async_manager=AsyncChatCompletionStreamManager,
    )


@lru_cache(maxsize=256)
def _schema_json(convert: Any, response_format: type) -> bytes:
    return orjson.dumps(convert(response_format))


def _format_param(convert: Any, response_format: Any) -> Any:
    """What the SDK sends for a response format (``convert`` is the SDK's function for it). For
    a type, its strict JSON schema is built once (the SDK builds it on every call: most of a
    parse() hit's time) and each call gets a fresh copy, so nothing downstream can change the
    remembered one."""
    if isinstance(response_format, type):
        return orjson.loads(_schema_json(convert, response_format))
    return convert(response_format)


def _response_format_param(response_format: Any) -> Any:
    return _format_param(_chat_helper_parts().response_format_param, response_format)


class _ChatHelper:
    #: What the SDK's own helper puts in its telemetry header.
    helper_header = ""

    def unsupported(self) -> str | None:
        parts = _chat_helper_parts()
        return parts if isinstance(parts, str) else None

    def to_create(self, kwargs: dict, validate_tools: bool) -> tuple[dict, Any]:
        """``create`` arguments sending what the SDK's helper sends: a response format type
        becomes its JSON schema (so entries are keyed by the schema actually sent)."""
        sdk = _chat_helper_parts()
        response_format = kwargs.get("response_format", openai.omit)
        tools = kwargs.get("tools", openai.omit)
        if not isinstance(tools, (list, *OMIT_TYPES)):
            # read twice (sent, then used to parse); the items stay as given: the SDK parses
            # arguments into a tool's pydantic model by the tool dict's own class
            kwargs["tools"] = tools = list(tools)
        if validate_tools:
            sdk.validate_tools(tools)
        kwargs["response_format"] = _response_format_param(response_format)
        kwargs["extra_headers"] = {
            "X-Stainless-Helper-Method": self.helper_header,
            **(kwargs.get("extra_headers") or {}),
        }
        return kwargs, (response_format, tools)


class ChatStreamHelper(_ChatHelper, StreamHelper):
    """``chat.completions.stream(...)``: the SDK's ``ChatCompletionStreamManager`` over the wrapped
    ``chat.completions.create(stream=True)``."""

    label = "openai chat.completions.stream()"
    helper_header = "chat.completions.stream"

    def split(self, kwargs: dict, is_async: bool) -> tuple[dict, Any]:
        create_kwargs, parts = self.to_create(kwargs, validate_tools=is_async)  # as the SDK's own stream()
        create_kwargs["stream"] = True
        return create_kwargs, parts

    def manager(self, request: Any, parts: Any, is_async: bool) -> Any:
        sdk = _chat_helper_parts()
        response_format, tools = parts
        cls = sdk.async_manager if is_async else sdk.manager
        return cls(request, response_format=response_format, input_tools=tools)


class ChatParseHelper(_ChatHelper, ParseHelper):
    """``chat.completions.parse(...)``: the SDK's ``parse_chat_completion`` over the wrapped
    ``chat.completions.create()``'s answer, so a hit is parsed with the caller's own types."""

    label = "openai chat.completions.parse()"
    helper_header = "chat.completions.parse"

    def split(self, kwargs: dict, is_async: bool) -> tuple[dict, Any]:
        return self.to_create(kwargs, validate_tools=True)

    def finish(self, answer: Any, parts: Any) -> Any:
        response_format, tools = parts
        return _chat_helper_parts().parse(response_format=response_format, input_tools=tools, chat_completion=answer)


CHAT_STREAM, CHAT_PARSE = ChatStreamHelper(), ChatParseHelper()


# -- responses.stream() and .parse() --------------------------------------------------------


@lru_cache(maxsize=1)
def _responses_helper_parts() -> Any:
    """The SDK pieces ``responses.stream()`` / ``.parse()`` are made of, or the reason they are
    not as expected."""
    try:
        from openai.lib._parsing._responses import parse_response, type_to_text_format_param
        from openai.lib.streaming.responses import AsyncResponseStreamManager, ResponseStreamManager
    except ImportError as exc:
        return f"cannot import {exc.name or exc}"
    try:  # where openai 2.x keeps it
        from openai.resources.responses.responses import _make_tools
    except ImportError:
        try:  # openai 3.x
            from openai.lib._response_resources import _make_tools
        except ImportError as exc:
            return f"cannot import {exc.name or exc}"
    for cls in (ResponseStreamManager, AsyncResponseStreamManager):
        reason = expect_parameters(cls, ["api_request", "text_format", "input_tools", "starting_after"])
        if reason is not None:
            return reason
    if set(parameter_names(parse_response) or ()) != {"text_format", "input_tools", "response"}:
        return "parse_response takes other arguments"
    if parameter_names(_make_tools) != ["tools"]:
        return "_make_tools takes other arguments"
    return SimpleNamespace(
        parse=parse_response,
        text_format_param=type_to_text_format_param,
        make_tools=_make_tools,
        manager=ResponseStreamManager,
        async_manager=AsyncResponseStreamManager,
    )


class _ResponsesHelper:
    def unsupported(self) -> str | None:
        parts = _responses_helper_parts()
        return parts if isinstance(parts, str) else None

    def to_create(self, kwargs: dict) -> tuple[dict, Any]:
        """``responses.create`` arguments sending what the SDK's helper sends: ``text_format``
        becomes ``text.format`` (its JSON schema, so entries are keyed by what is sent) and
        Chat-style pydantic function tools the Responses shape."""
        sdk = _responses_helper_parts()
        text_format = kwargs.pop("text_format", openai.omit)
        if not isinstance(text_format, OMIT_TYPES):
            text = kwargs.get("text") or {}
            if "format" in text:
                raise TypeError("Cannot mix and match text.format with text_format")
            kwargs["text"] = {**text, "format": _format_param(sdk.text_format_param, text_format)}
        tools = sdk.make_tools(kwargs.get("tools", openai.omit))
        if not isinstance(tools, OMIT_TYPES):
            kwargs["tools"] = tools
        return kwargs, (text_format, tools)


class ResponsesStreamHelper(_ResponsesHelper, StreamHelper):
    """``responses.stream(...)``: the SDK's ``ResponseStreamManager`` over the wrapped
    ``responses.create(stream=True)``. Resuming a stored response (``response_id=``) is not a
    new request: it passes through to the SDK."""

    label = "openai responses.stream()"

    def cacheable(self, kwargs: dict) -> bool:
        return "response_id" not in kwargs and "starting_after" not in kwargs

    def split(self, kwargs: dict, is_async: bool) -> tuple[dict, Any]:
        for required in ("input", "model"):
            if required not in kwargs:  # the SDK's helper raises its own ValueError for this
                raise ValueError(f"{required} must be provided when creating a new response")
        create_kwargs, parts = self.to_create(kwargs)
        create_kwargs["stream"] = True
        return create_kwargs, parts

    def manager(self, request: Any, parts: Any, is_async: bool) -> Any:
        sdk = _responses_helper_parts()
        text_format, tools = parts
        cls = sdk.async_manager if is_async else sdk.manager
        return cls(request, text_format=text_format, input_tools=tools, starting_after=None)


class ResponsesParseHelper(_ResponsesHelper, ParseHelper):
    """``responses.parse(...)``: the SDK's ``parse_response`` over the wrapped
    ``responses.create()``'s answer."""

    label = "openai responses.parse()"

    def cacheable(self, kwargs: dict) -> bool:
        return kwargs.get("stream") is not True  # parse(stream=True) is the SDK's raw stream

    def split(self, kwargs: dict, is_async: bool) -> tuple[dict, Any]:
        create_kwargs, parts = self.to_create(kwargs)
        if "verbosity" in create_kwargs:  # a body field create() has no argument for
            verbosity = create_kwargs.pop("verbosity")
            create_kwargs["extra_body"] = {"verbosity": verbosity, **(create_kwargs.get("extra_body") or {})}
        return create_kwargs, parts

    def finish(self, answer: Any, parts: Any) -> Any:
        text_format, tools = parts
        return _responses_helper_parts().parse(text_format=text_format, input_tools=tools, response=answer)


RESPONSES_STREAM, RESPONSES_PARSE = ResponsesStreamHelper(), ResponsesParseHelper()


# -- embeddings: cached per input item ------------------------------------------------------


class _EmbeddingPlan:
    """One embeddings call split into items answered by the cache and items sent upstream."""

    __slots__ = ("ctx", "requests", "found", "missing", "single", "caching", "controls", "namespace")

    def __init__(self, ctx: WrapContext, kwargs: dict):
        self.ctx = ctx
        self.caching, self.controls = pop_controls(kwargs)
        self.namespace = ctx.namespace_for(self.controls)
        inp = kwargs.get("input")
        if not isinstance(inp, (str, list)) and hasattr(inp, "__iter__"):
            inp = kwargs["input"] = list(inp)
        self.single = isinstance(inp, str) or (isinstance(inp, list) and bool(inp) and isinstance(inp[0], int))
        items = [inp] if self.single else list(inp)
        base = build_request("openai.embeddings", ctx, {k: v for k, v in kwargs.items() if k != "input"})
        self.requests = [{**base, "input": item} for item in items]
        cache = ctx.cache
        self.found = [
            cache.get(r, caching=self.caching, cache=self.controls, namespace=self.namespace) for r in self.requests
        ]
        self.missing = [i for i, hit in enumerate(self.found) if hit is None]

    def upstream_kwargs(self, kwargs: dict) -> dict:
        if len(self.missing) == len(self.requests):
            return kwargs  # nothing cached: send the caller's own request unchanged
        return {**kwargs, "input": [self.requests[i]["input"] for i in self.missing]}

    def finish(self, response: Any, latency: float) -> Any:
        """Stores what came back per item; returns the answer in the caller's order."""
        cache = self.ctx.cache
        if response is not None:
            share = call_meta(
                {"model": response.model, "usage": dump(response.usage)} if response.usage else {}, latency_s=latency
            )
            n = len(self.missing)
            tokens = share.pop("tokens", 0)
            meta = {k: v / n for k, v in share.items()}
            for j, item in enumerate(response.data):
                i = self.missing[item.index]
                # whole tokens per item; the remainder goes to the first ones
                meta["tokens"] = tokens // n + (j < tokens % n)
                stored = {"embedding": item.embedding, "model": response.model}
                try:
                    cache.put(
                        self.requests[i],
                        stored,
                        caching=self.caching,
                        cache=self.controls,
                        namespace=self.namespace,
                        meta=meta,
                    )
                except (TypeError, ValueError) as exc:  # NaN in a vector, say: answer it, unstored
                    log.warning("dejacache: embedding not stored: %s", exc)
            if len(self.missing) == len(self.requests):
                return response
        data: list[Any] = []
        fresh = {self.missing[item.index]: item for item in response.data} if response is not None else {}
        model = response.model if response is not None else None
        for i, hit in enumerate(self.found):
            if hit is None:
                data.append(fresh[i].model_copy(update={"index": i}))
            else:
                model = model or hit.response.get("model")
                data.append({"object": "embedding", "index": i, "embedding": hit.response["embedding"], "cache": True})
        answer: dict[str, Any] = {
            "object": "list",
            "data": data,
            "model": model or "",
            "usage": dump(response.usage)
            if response is not None and response.usage
            else {"prompt_tokens": 0, "total_tokens": 0},
        }
        if response is None:
            answer["cache"] = True
        return rebuild(CreateEmbeddingResponse, answer)


def _plan_embeddings(ctx: WrapContext, kwargs: dict) -> _EmbeddingPlan | None:
    """The plan, or None when the call goes to the provider untouched: no items (let the
    provider say what it thinks of that) or inputs that cannot be keyed."""
    try:
        plan = _EmbeddingPlan(ctx, kwargs)
    except TypeError as exc:
        log.warning("dejacache: embeddings request not cacheable, calling the provider directly: %s", exc)
        return None
    return plan if plan.requests else None


def embeddings_sync(ctx: WrapContext, original: Any, kwargs: dict) -> Any:
    if kwargs.get("caching") is False:
        kwargs.pop("caching")
        kwargs.pop("cache", None)
        return original(**kwargs)
    plan = _plan_embeddings(ctx, kwargs)
    if plan is None:
        return original(**kwargs)
    if not plan.missing:
        return plan.finish(None, 0.0)
    start = time.perf_counter()
    response = original(**plan.upstream_kwargs(kwargs))
    return plan.finish(response, time.perf_counter() - start)


async def embeddings_async(ctx: WrapContext, original: Any, kwargs: dict) -> Any:
    if kwargs.get("caching") is False:
        kwargs.pop("caching")
        kwargs.pop("cache", None)
        return await original(**kwargs)
    plan = _plan_embeddings(ctx, kwargs)
    if plan is None:
        return await original(**kwargs)
    if not plan.missing:
        return plan.finish(None, 0.0)
    start = time.perf_counter()
    response = await original(**plan.upstream_kwargs(kwargs))
    return plan.finish(response, time.perf_counter() - start)


def _raw_chat_classes() -> tuple[type, type, type]:
    from openai._legacy_response import LegacyAPIResponse
    from openai._models import FinalRequestOptions

    return LegacyAPIResponse, FinalRequestOptions, ChatCompletion


def raw_chat_answers(client: Any) -> RawAnswers:
    """Raw responses of ``chat.completions.with_raw_response.create`` (sync and async alike)."""
    return RawAnswers(
        "openai chat.completions.with_raw_response.create()", client, _raw_chat_classes, "/chat/completions"
    )
