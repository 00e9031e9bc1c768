"""What every embedder is, and the checks applied to what foreign embedders return."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._errors import EmbedderUnavailableError as EmbedderUnavailableError  # re-exported
from .._errors import EmbeddingError as EmbeddingError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors: ``embed(texts)`` is float32 of shape (len(texts), dim).

    Any object with ``name``, ``dim`` and ``embed`` works; the built-in ones are
    :class:`MiniLMEmbedder`, :class:`MiniLML3Embedder`, :class:`HashingEmbedder`,
    :class:`SentenceTransformerEmbedder`, :class:`OpenAIEmbedder` and :class:`CallableEmbedder`.
    """

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def check_texts(texts: object) -> list[str]:
    """The texts as a list of str, or a TypeError that says what was wrong."""
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of texts, not one str: wrap it as [text]")
    try:
        items: list[Any] = list(texts)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"embed() takes a list of str, got {type(texts).__name__}") from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"embed() takes a list of str; item {i} is {type(t).__name__}")
    return items


def checked_rows(vectors: object, rows: int, dim: int | None, source: str) -> np.ndarray:
    """``vectors`` as a float32 (rows, dim) array, or an EmbeddingError naming ``source``.

    NaN or infinite values are an error, since a NaN similarity would silently never match
    (or always match, depending on the comparison).
    """
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise EmbeddingError(f"{source} returned something that is not a numeric array: {e}") from None
    if array.ndim == 1 and rows == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] != rows or (dim is not None and array.shape[1] != dim):
        want = f"({rows}, {dim})" if dim is not None else f"({rows}, dim)"
        raise EmbeddingError(f"{source} returned shape {array.shape}, expected {want}")
    if not np.isfinite(array).all():
        raise EmbeddingError(f"{source} returned NaN or infinite values")
    return array


def unit_rows(vectors: object, rows: int, dim: int | None, source: str) -> np.ndarray:
    """:func:`checked_rows`, C-contiguous, with L2-normalised rows (zero rows stay zero)."""
    array = checked_rows(vectors, rows, dim, source)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.where(norms > 0, norms, 1.0), dtype=np.float32)
