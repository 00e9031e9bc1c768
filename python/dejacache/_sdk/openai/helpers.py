"""OpenAI SDK helpers: ``chat.completions.stream()`` / ``.parse()`` and ``responses.stream()`` / ``.parse()``."""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import openai
import orjson

from ..helpers import ParseHelper, StreamHelper, expect_parameters, parameter_names
from .streams import OMIT_TYPES

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
        from openai.resources.responses.responses import _make_tools  # type: ignore[attr-defined]
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
