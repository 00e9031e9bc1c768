"""OpenAI streams: chunks and events merged back into one answer, and the SDK's stream classes."""

from __future__ import annotations

from typing import Any

import openai

from ..base import dump, rebuild
from ..stream_replay import Assembler, empty_http_response, stream_classes

OMIT_TYPES = (openai.NotGiven, openai.Omit)
STREAMS = stream_classes(openai.Stream, openai.AsyncStream, empty_http_response)


def usage_asked(kwargs: dict) -> bool:
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


class ChoicesAssembler(Assembler):
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


class ChatAssembler(ChoicesAssembler):
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


class CompletionAssembler(ChoicesAssembler):
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


def model_builder(cls: type) -> Any:
    def build(data: dict) -> Any:
        return rebuild(cls, data)

    return build
