"""Any function as an embedder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._base import check_texts, unit_rows


class CallableEmbedder:
    """Wraps ``fn(texts) -> array of shape (len(texts), dim)`` (or ``fn(text) -> vector`` with
    ``batched=False``). Rows are checked and L2-normalised, so ``fn`` need not normalise.

    >>> e = CallableEmbedder(lambda texts: [[len(t), 1.0] for t in texts], dim=2)
    >>> [round(float(x), 3) for x in e.embed(["ab"])[0]]
    [0.894, 0.447]
    """

    def __init__(self, fn: Callable[..., Any], dim: int, *, name: str | None = None, batched: bool = True) -> None:
        if not callable(fn):
            raise TypeError(f"CallableEmbedder needs a callable, got {type(fn).__name__}")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self._fn = fn
        self._batched = batched
        self.dim = dim
        self.name = name or f"callable:{getattr(fn, '__qualname__', type(fn).__name__)}"

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = check_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        raw: Sequence[Any] | np.ndarray = self._fn(texts) if self._batched else [self._fn(t) for t in texts]
        return unit_rows(raw, len(texts), self.dim, self.name)

    def __repr__(self) -> str:
        return f"CallableEmbedder(name={self.name!r}, dim={self.dim})"
