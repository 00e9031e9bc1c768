"""What a cache read returns."""

from __future__ import annotations

from typing import Any


class Hit:
    """A response served from the cache.

    ``source`` says which tier answered: ``"exact"`` (the same request was seen before) or
    ``"semantic"`` (a request meaning the same was seen; ``similarity`` tells how close).
    ``age`` is seconds since the entry was stored.

    >>> hit = cache.get(request)          # doctest: +SKIP
    >>> hit.source, hit.age                # doctest: +SKIP
    ('exact', 1.5)
    """

    __slots__ = ("response", "key", "source", "age", "namespace", "similarity", "meta")

    def __init__(
        self,
        response: Any,
        key: str,
        source: str,
        age: float,
        namespace: str,
        similarity: float | None = None,
        meta: dict | None = None,
    ):
        self.response = response
        self.key = key
        self.source = source
        self.age = age
        self.namespace = namespace
        self.similarity = similarity
        self.meta = meta if meta is not None else {}

    def __repr__(self) -> str:
        sim = "" if self.similarity is None else f", similarity={self.similarity:.3f}"
        return f"Hit(source={self.source!r}, key={self.key!r}, age={self.age:.3f}{sim})"
