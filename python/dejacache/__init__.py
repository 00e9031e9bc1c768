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
    "Hit",
    "VectorIndex",
    "__version__",
    "distance",
    "sampling",
    "vectorstores",
]

# Submodules loaded on first attribute access, so that `import dejacache` stays cheap.
_LAZY = frozenset({"distance", "sampling", "vectorstores"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
