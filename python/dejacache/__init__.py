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
    "distance",
    "load_config",
    "sampling",
]

# Loaded on first attribute access, so that `import dejacache` stays cheap: the semantic tier
# pulls in numpy, the config reader PyYAML.
_LAZY = {
    "Semantic": ("._semantic", "Semantic"),
    "load_config": ("._config", "load_config"),
    "ConfigError": ("._config", "ConfigError"),
}
_LAZY_SUBMODULES = frozenset({"distance", "sampling"})


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name, __name__), attr)
        globals()[name] = value
        return value
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
