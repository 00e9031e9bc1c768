"""How a response is kept: one orjson document holding the response and what the call cost.

Only JSON goes in, never pickle: a shared store (Redis, a file) must not be able to run code in
the processes that read it.
"""

from __future__ import annotations

from typing import Any

import orjson

ENVELOPE_VERSION = 1


def encode(response: Any, meta: dict | None = None) -> bytes:
    """The stored bytes of a response. Raises TypeError when it is not JSON-like."""
    try:
        return orjson.dumps({"v": ENVELOPE_VERSION, "r": response, "m": meta or {}})
    except TypeError as exc:
        raise TypeError(
            f"cannot store a response of type {type(response).__name__}: dejacache stores "
            "JSON-like values (dict, list, str, number, bool, None); convert SDK objects with "
            ".model_dump() or use dejacache.wrap() for SDK clients"
        ) from exc


def decode(blob: bytes) -> tuple[Any, dict]:
    """(response, meta) from stored bytes; ValueError when they are not an envelope of ours."""
    doc = orjson.loads(blob)
    if not isinstance(doc, dict) or doc.get("v") != ENVELOPE_VERSION or "r" not in doc:
        raise ValueError("stored entry is not a dejacache envelope (version mismatch or corruption)")
    return doc["r"], doc.get("m") or {}
