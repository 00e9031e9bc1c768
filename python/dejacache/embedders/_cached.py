"""An embedding LRU: the same text is never embedded twice."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .._core import key_of_text
from ._base import Embedder, check_texts, checked_rows


class CachedEmbedder:
    """Wraps an embedder with an LRU of its rows, keyed by the 128-bit xxh3 hash of the text.

    ``embed(texts)`` looks every text up, then sends the distinct misses to the inner embedder
    in ONE call (so a batch keeps its batching), and stores what comes back.

    The LRU is an ``OrderedDict`` of read-only numpy rows, not the Rust entry store: the store
    holds bytes, so each hit would pay a serialise/copy round trip and a crossing into Rust
    for what is a dict probe here; keying by a 16-byte hash instead of the text keeps long
    prompts out of memory (collisions at 2^-128 are not a concern).

    >>> inner = HashingEmbedder()  # doctest: +SKIP
    >>> e = CachedEmbedder(inner, max_entries=10_000)  # doctest: +SKIP
    """

    def __init__(self, inner: Embedder, max_entries: int = 10_000) -> None:
        if not hasattr(inner, "embed") or not hasattr(inner, "dim"):
            raise TypeError("CachedEmbedder wraps an embedder: an object with embed(texts) and dim")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.inner = inner
        self.max_entries = max_entries
        self.name: str = getattr(inner, "name", type(inner).__name__)
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = check_texts(texts)
        keys = [key_of_text(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        missing: dict[str, str] = {}  # key -> text, distinct, in first-seen order
        with self._lock:
            for key, text in zip(keys, texts):
                row = self._rows.get(key)
                if row is not None:
                    self._rows.move_to_end(key)
                    found[key] = row
                elif key not in found and key not in missing:
                    missing[key] = text
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
        if missing:
            # The inner call runs without the lock: it may be slow, and other threads' hits
            # should not wait for it. Two threads missing the same text may both embed it.
            computed = checked_rows(self.inner.embed(list(missing.values())), len(missing), self.dim, self.name).copy()
            computed.setflags(write=False)
            with self._lock:
                for key, row in zip(missing, computed):
                    found[key] = row
                    self._rows[key] = row
                    self._rows.move_to_end(key)
                while len(self._rows) > self.max_entries:
                    self._rows.popitem(last=False)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r}, max_entries={self.max_entries}, cached={len(self._rows)})"
