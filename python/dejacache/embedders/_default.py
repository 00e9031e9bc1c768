"""The default embedder: MiniLM when installed, else the hashing fallback (said once)."""

from __future__ import annotations

import functools
import warnings

from ._base import Embedder
from ._cached import CachedEmbedder
from ._minilm import INSTALL_HINT, minilm_available


class FallbackEmbedderWarning(UserWarning):
    """The default sentence-embedding model is not installed; lexical hashing is used instead."""


@functools.cache
def _warn_fallback_once() -> None:
    warnings.warn(
        "dejacache: no sentence-embedding model installed, so semantic matching falls back to "
        "HashingEmbedder (shared spelling only, not meaning). For the real model: " + INSTALL_HINT,
        FallbackEmbedderWarning,
        stacklevel=4,
    )


@functools.cache
def _shared_default(threads: int) -> Embedder:
    # One model per process: the weights take ~90 MB and a second of loading, and the
    # onnxruntime session is safe to share between threads and caches.
    if minilm_available():
        from ._minilm import MiniLMEmbedder

        return MiniLMEmbedder(threads=threads)
    _warn_fallback_once()
    from ._hashing import HashingEmbedder

    return HashingEmbedder()


def default_embedder(*, threads: int = 1, cache_size: int = 10_000) -> CachedEmbedder:
    """all-MiniLM-L6-v2 (onnxruntime) when installed, else :class:`HashingEmbedder` with a
    one-time :class:`FallbackEmbedderWarning`; wrapped in a :class:`CachedEmbedder`.

    The model is loaded once per process and shared; each call gets its own embedding LRU.

    >>> e = default_embedder()  # doctest: +SKIP
    >>> e.name  # doctest: +SKIP
    'all-MiniLM-L6-v2'
    """
    return CachedEmbedder(_shared_default(threads), max_entries=cache_size)
