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

__all__ = [
    "EXCLUDED_PARAMS",
    "Cache",
    "ConfigError",
    "Hit",
    "Semantic",
    "VectorIndex",
    "__version__",
    "load_config",
]

# Imported on first use: the semantic tier pulls in numpy, the config reader PyYAML.
_LAZY = {
    "Semantic": ("._semantic", "Semantic"),
    "load_config": ("._config", "load_config"),
    "ConfigError": ("._config", "ConfigError"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name, __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dejacache' has no attribute {name!r}")
