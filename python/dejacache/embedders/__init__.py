"""Embedders: texts -> unit float32 vectors, for the semantic cache.

Every embedder has ``name``, ``dim`` and ``embed(texts) -> ndarray (len(texts), dim)``.
Importing this package loads no model and imports no optional library; each class is imported
on first use.

>>> from dejacache.embedders import default_embedder  # doctest: +SKIP
>>> default_embedder().embed(["How do I learn Rust?"]).shape  # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._base import Embedder, EmbedderUnavailableError, EmbeddingError
    from ._cached import CachedEmbedder
    from ._callable import CallableEmbedder
    from ._default import FallbackEmbedderWarning, default_embedder
    from ._hashing import HashingEmbedder
    from ._minilm import MiniLMEmbedder, MiniLML3Embedder, minilm_available
    from ._openai import OpenAIEmbedder
    from ._sentence_transformers import SentenceTransformerEmbedder

#: public name -> private module defining it
_LAZY = {
    "Embedder": "._base",
    "EmbedderUnavailableError": "._base",
    "EmbeddingError": "._base",
    "CachedEmbedder": "._cached",
    "CallableEmbedder": "._callable",
    "FallbackEmbedderWarning": "._default",
    "default_embedder": "._default",
    "HashingEmbedder": "._hashing",
    "MiniLMEmbedder": "._minilm",
    "MiniLML3Embedder": "._minilm",
    "minilm_available": "._minilm",
    "OpenAIEmbedder": "._openai",
    "SentenceTransformerEmbedder": "._sentence_transformers",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
