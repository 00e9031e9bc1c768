"""dejacache: an LLM call cache with a Rust core.

>>> import dejacache
>>> cache = dejacache.Cache()
>>> cache.call({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, my_llm)  # doctest: +SKIP

Importing this package loads the compiled core and nothing else: no files, no network, no models.
"""

from ._cache import Cache
from ._controls import EXCLUDED_PARAMS
from ._core import VectorIndex, __version__
from ._hit import Hit

#: names imported on first use (module __getattr__), so that importing dejacache stays cheap:
#: the embedders load models, the semantic tier numpy, the config reader PyYAML
_LAZY: dict[str, str] = {
    "CachedEmbedder": "dejacache.embedders",
    "CallableEmbedder": "dejacache.embedders",
    "HashingEmbedder": "dejacache.embedders",
    "MiniLMEmbedder": "dejacache.embedders",
    "MiniLML3Embedder": "dejacache.embedders",
    "OpenAIEmbedder": "dejacache.embedders",
    "SentenceTransformerEmbedder": "dejacache.embedders",
    "default_embedder": "dejacache.embedders",
    "Semantic": "dejacache._semantic",
    "load_config": "dejacache._config",
    "ConfigError": "dejacache._config",
}
#: submodules loaded on first attribute access
_LAZY_SUBMODULES = frozenset({"distance", "sampling", "vectorstores"})

__all__ = [
    "EXCLUDED_PARAMS",
    "Cache",
    "Hit",
    "VectorIndex",
    "__version__",
    "distance",
    "sampling",
    "vectorstores",
    *_LAZY,
]


def __getattr__(name: str) -> object:
    import importlib

    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _LAZY_SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'dejacache' has no attribute {name!r}")
    globals()[name] = value
    return value
