"""The parts of a request the pre-processors read: fields, messages, content pieces, and the
base class every built-in pre-processor shares. Public through :mod:`dejacache.preprocess`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ._errors import PreprocessError

#: What replaces the embedded text in the request's scope. NULs keep it from colliding with text.
EMBEDDED = "\x00embedded\x00"
#: Joins the turns of a conversation in stored texts; :class:`~dejacache.evaluation.SequenceMatch`
#: splits on it.
TURN_SEPARATOR = "\x1e"


class Extraction(NamedTuple):
    """What a pre-processor took from a request.

    ``text``: what is stored and shown to evaluators; ``embed``: what is embedded (often the
    same object); ``rest``: the request with the embedded part replaced by :data:`EMBEDDED`.
    """

    text: Any
    embed: Any
    rest: Any


class Preprocessor:
    """Base of the built-in pre-processors: ``extract`` does the work, calling returns the
    GPTCache-style value (the text, or the pair (text to store, text to embed))."""

    def extract(self, request: Any) -> Extraction:
        raise NotImplementedError

    def __call__(self, request: Any) -> Any:
        ext = self.extract(request)
        return ext.text if ext.text is ext.embed else (ext.text, ext.embed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# -- helpers -----------------------------------------------------------------------------------


def _field(request: Any, name: str) -> Any:
    if not isinstance(request, Mapping) or name not in request:
        raise PreprocessError(f"the request has no {name!r} field to embed")
    return request[name]


def _messages(request: Any) -> Sequence[Any]:
    msgs = _field(request, "messages")
    if not isinstance(msgs, (list, tuple)) or not msgs:
        raise PreprocessError("the request's 'messages' must be a non-empty list to embed its content")
    return msgs


def _split_content(content: Any) -> tuple[str, Any]:
    """(text of a message content, the content with that text replaced by the marker).

    OpenAI content is a string or a list of parts; only text parts are embedded, every other
    part (an image, an audio clip, a file) stays in the scope, so a question about a different
    image never hits.
    """
    if isinstance(content, str):
        return content, EMBEDDED
    if isinstance(content, (list, tuple)):
        texts, rest = [], []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
                rest.append({**part, "text": EMBEDDED})
            else:
                rest.append(part)
        if texts:
            return "\n".join(texts), rest
    raise PreprocessError(f"message content of type {type(content).__name__} has no text to embed")


def _message_content(message: Any) -> Any:
    if isinstance(message, Mapping):
        if "content" not in message:
            raise PreprocessError("a message has no 'content'")
        return message["content"]
    content = getattr(message, "content", None)
    if content is None:
        raise PreprocessError(f"a message of type {type(message).__name__} has no content")
    return content


def _plain_message(message: Any) -> Any:
    """A message object (LangChain's, say) as a dict, so it can be part of a scope hash."""
    if isinstance(message, Mapping):
        return message
    return {"type": getattr(message, "type", type(message).__name__), "content": _message_content(message)}


def _with_messages(request: Mapping, messages: list) -> dict:
    return {**request, "messages": messages}


def _role(message: Any) -> str:
    role = message.get("role") if isinstance(message, Mapping) else getattr(message, "type", None)
    return role if isinstance(role, str) else ""


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
