"""Pre-processors of files and images (``GetFileName``, ``GetFileBytes``, ``GetImage``,
``GetImageQuestion``). Public through :mod:`dejacache.preprocess`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._errors import PreprocessError
from ._request_parts import EMBEDDED, Extraction, Preprocessor, _digest

# -- files and images ---------------------------------------------------------------------------


def _file_bytes(value: Any) -> bytes:
    """The bytes of a file given as bytes, a path, or a readable (and rewound) file object."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            with open(value, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise PreprocessError(f"cannot read the file {value!r}: {exc}") from None
    read = getattr(value, "read", None)
    if callable(read):
        seek, tell = getattr(value, "seek", None), getattr(value, "tell", None)
        pos = tell() if callable(tell) else None
        data = read()
        if callable(seek) and pos is not None:
            seek(pos)  # the provider call reads the same file object afterwards
        if isinstance(data, str):
            data = data.encode()
        return bytes(data)
    raise PreprocessError(f"cannot read file content from a value of type {type(value).__name__}")


def _file_name(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return value["name"]
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name
    raise PreprocessError(f"the file (a {type(value).__name__}) has no name")


def _file_field(request: Any) -> tuple[str, Any]:
    if isinstance(request, Mapping):
        for name in ("file", "audio"):
            if name in request:
                return name, request[name]
    raise PreprocessError("the request has no 'file' field")


class GetFileName(Preprocessor):
    """Audio requests: the file's name is embedded; a digest of the file's bytes stays in the
    scope, so two different recordings that share a name never share a transcript."""

    def extract(self, request: Any) -> Extraction:
        field, value = _file_field(request)
        name = _file_name(value.get("file", value) if isinstance(value, Mapping) else value)
        content = value.get("content", value.get("file")) if isinstance(value, Mapping) else value
        return Extraction(name, name, {**request, field: {"name": EMBEDDED, "content": _digest(_file_bytes(content))}})


class GetFileBytes(Preprocessor):
    """Audio requests: the file's bytes, for an embedder of audio (pass one that accepts bytes)."""

    def extract(self, request: Any) -> Extraction:
        field, value = _file_field(request)
        data = _file_bytes(value.get("content", value.get("file")) if isinstance(value, Mapping) else value)
        return Extraction(data, data, {**request, field: EMBEDDED})


def _image_request(request: Any) -> tuple[Mapping, Callable[[Mapping], Any]]:
    """The mapping that holds ``image`` (the request, or Replicate's ``input``) and a function
    putting a replacement mapping back into the request."""
    if isinstance(request, Mapping) and "image" in request:
        return request, lambda inner: inner
    inner = request.get("input") if isinstance(request, Mapping) else None
    if isinstance(inner, Mapping) and "image" in inner:
        return inner, lambda new: {**request, "input": new}
    raise PreprocessError("the request has no 'image' (nor 'input.image') field")


def _image_identity(image: Any) -> Any:
    if isinstance(image, str):
        return image  # a path or URL already names it
    return _digest(_file_bytes(image))


class GetImage(Preprocessor):
    """Image requests (MiniGPT-4, Replicate): the image itself, for an image embedder; the
    question, if any, stays in the scope verbatim."""

    def extract(self, request: Any) -> Extraction:
        holder, put_back = _image_request(request)
        image = holder["image"]
        embed = image if isinstance(image, (str, bytes)) else _file_bytes(image)
        return Extraction(embed, embed, put_back({**holder, "image": EMBEDDED}))


class GetImageQuestion(Preprocessor):
    """Image question answering: the question (``question`` or ``prompt``) is embedded; the
    image's identity (its path, URL or content digest) stays in the scope, so a paraphrased
    question about the same image hits and any question about another image does not."""

    def extract(self, request: Any) -> Extraction:
        holder, put_back = _image_request(request)
        for name in ("question", "prompt", "text"):
            if isinstance(holder.get(name), str) and holder[name]:
                question = holder[name]
                rest = {**holder, name: EMBEDDED, "image": _image_identity(holder["image"])}
                return Extraction(question, question, put_back(rest))
        raise PreprocessError("the image request has no 'question' (or 'prompt') string")
