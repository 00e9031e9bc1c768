"""The model-free fallback: character n-gram hashing, computed in the Rust core."""

from __future__ import annotations

import numpy as np

from .._core import HashingEmbedder as _CoreHashingEmbedder
from ._base import check_texts


class HashingEmbedder:
    """Lexical embedder: signed hashing of character n-grams and words, no model needed.

    Texts that share spelling come out close; texts that share only meaning do not ("cheap
    flights" vs "inexpensive airfare"). Use it when no sentence-embedding model is installed,
    with a high threshold. Deterministic across processes and machines.

    >>> e = HashingEmbedder()
    >>> v = e.embed(["How do I learn Rust?", "how do i learn rust"])
    >>> round(float(v[0] @ v[1]), 3)
    1.0
    """

    def __init__(self, dim: int = 512, *, min_n: int = 3, max_n: int = 5, words: bool = True) -> None:
        self._core = _CoreHashingEmbedder(dim, min_n, max_n, words)
        self.dim: int = self._core.dim
        self.name = f"hashing-{dim}-{min_n}to{max_n}{'-words' if words else ''}"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit rows of shape (len(texts), dim); an empty or punctuation-only text gives a zero row."""
        return self._core.embed(check_texts(texts))

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim}, name={self.name!r})"
