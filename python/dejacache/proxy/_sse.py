"""Server-sent events: reading a provider's stream, and writing replays in its format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson


class Doc:
    """A parsed chunk or event as the SDK wrappers' assemblers read one (``model_dump``,
    ``.type``, ``.response``): lets them add up a proxied stream without building SDK models."""

    __slots__ = ("data", "type", "response")

    def __init__(self, data: dict):
        self.data = data
        self.type = data.get("type")
        inner = data.get("response")
        self.response = Doc(inner) if isinstance(inner, dict) else None

    def model_dump(self, **_: Any) -> dict:
        return self.data


async def events(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[bytes, str | None]]:
    """(raw event bytes ending in a blank line, its data or None) for each event of a stream.
    Line ends are normalised to LF; a trailing event without its blank line is yielded too."""
    buf = b""
    async for part in chunks:
        if b"\r" in part:
            part = part.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf += part
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            raw = buf[start : end + 2]
            start = end + 2
            yield raw, _data(raw)
        if start:
            buf = buf[start:]
    if buf.strip():
        raw = buf.rstrip(b"\n") + b"\n\n"
        yield raw, _data(raw)


def _data(raw: bytes) -> str | None:
    lines = [line[5:].lstrip(b" ") for line in raw.split(b"\n") if line.startswith(b"data:")]
    if not lines:
        return None
    return b"\n".join(lines).decode("utf-8", "replace")


def parse(data: str) -> dict | None:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def write(replay: list[dict], named: bool, done: bool) -> bytes:
    """A replay as SSE bytes: ``event: <type>`` lines for Anthropic and the Responses API,
    plain ``data:`` lines and a final ``data: [DONE]`` for chat and text completions."""
    dumps = orjson.dumps
    if named:
        out = [b"event: %s\ndata: %s\n\n" % (str(e.get("type", "message")).encode(), dumps(e)) for e in replay]
    else:
        out = [b"data: %s\n\n" % dumps(e) for e in replay]
    if done:
        out.append(b"data: [DONE]\n\n")
    return b"".join(out)
