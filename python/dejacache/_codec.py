"""How a response is kept: one orjson document holding the response and what the call cost.

Only JSON goes in, never pickle: a shared store (Redis, a file) must not be able to run code in
the processes that read it.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from ._checks import check_finite

log = logging.getLogger("dejacache")

ENVELOPE_VERSION = 1


def encode(response: Any, meta: dict | None = None) -> bytes:
    """The stored bytes of a response. Raises TypeError when it is not JSON-like, ValueError
    naming the path when it holds NaN or infinity."""
    try:
        blob = orjson.dumps({"v": ENVELOPE_VERSION, "r": response, "m": meta or {}})
    except TypeError as exc:
        raise TypeError(
            f"cannot store a response of type {type(response).__name__}: dejacache stores "
            "JSON-like values (dict, list, str, number, bool, None); convert SDK objects with "
            ".model_dump() or use dejacache.wrap() for SDK clients"
        ) from exc
    # orjson writes NaN and infinity as null: only then is the value walked to find them.
    if b"null" in blob:
        check_finite(response, "response")
        check_finite(meta, "meta")
    return blob


def decode(blob: bytes) -> tuple[Any, dict]:
    """(response, meta) from stored bytes; ValueError when they are not an envelope of ours."""
    doc = orjson.loads(blob)
    if not isinstance(doc, dict) or doc.get("v") != ENVELOPE_VERSION or "r" not in doc:
        raise ValueError("stored entry is not a dejacache envelope (version mismatch or corruption)")
    meta = doc.get("m")
    if type(meta) is not dict:  # written by another version or process: the answer still counts
        if meta:
            log.debug("dejacache: ignoring stored meta that is not a dict: %r", meta)
        meta = {}
    return doc["r"], meta
