"""dejacache: an LLM call cache with a Rust core.

>>> import dejacache
>>> cache = dejacache.Cache()
>>> cache.call({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, my_llm)  # doctest: +SKIP

Importing this package loads the compiled core and nothing else: no files, no network, no models.
"""

from ._cache import Cache
from ._controls import EXCLUDED_PARAMS
from ._core import __version__
from ._hit import Hit

#: names imported on first use (module __getattr__), so that importing dejacache stays cheap
_LAZY: dict[str, str] = {
    "CalibratedPairEvaluator": "dejacache._calibrated",
    "CachedEmbedder": "dejacache.embedders",
    "CallableEmbedder": "dejacache.embedders",
    "HashingEmbedder": "dejacache.embedders",
    "MiniLMEmbedder": "dejacache.embedders",
    "MiniLML3Embedder": "dejacache.embedders",
    "OpenAIEmbedder": "dejacache.embedders",
    "SentenceTransformerEmbedder": "dejacache.embedders",
    "default_embedder": "dejacache.embedders",
}

__all__ = [
    "EXCLUDED_PARAMS",
    "Cache",
    "Hit",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dejacache' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
