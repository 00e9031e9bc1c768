"""dejacache: an LLM call cache with a Rust core.

>>> import dejacache
>>> cache = dejacache.Cache()
>>> cache.call({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, my_llm)  # doctest: +SKIP

Importing this package loads the compiled core and nothing else: no files, no network, no models.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._cache import Cache
from ._controls import EXCLUDED_PARAMS
from ._core import Hit, VectorIndex, __version__
from ._cost.cost import (
    PriceError,
    UnknownModelError,
    call_meta,
    completion_cost,
    load_prices,
    model_info,
    supports_prompt_caching,
)
from ._cost.usage import UsageError, normalize_usage
from ._errors import (
    ConfigError,
    DejacacheError,
    EmbedderUnavailableError,
    EmbeddingError,
    PreprocessError,
    StoreUnavailable,
)
from ._sdk.cache_control import strip_cache_control
from ._sdk.wrap import wrap

if _TYPE_CHECKING:  # the lazily imported names below, visible to type checkers
    from . import distance, sampling, stores, vectorstores
    from ._config import load_config
    from ._semantic.calibrated import CalibratedPairEvaluator
    from ._semantic.config import Semantic
    from .embedders import (
        CachedEmbedder,
        CallableEmbedder,
        HashingEmbedder,
        MiniLMEmbedder,
        MiniLML3Embedder,
        OpenAIEmbedder,
        SentenceTransformerEmbedder,
        default_embedder,
    )

#: names imported on first use (module __getattr__), so that importing dejacache stays cheap:
#: the embedders load models, the semantic tier numpy, the config reader PyYAML; a name that is
#: its module's own name (``distance``) is the submodule itself
_LAZY: dict[str, str] = {
    "CalibratedPairEvaluator": "dejacache._semantic.calibrated",
    "CachedEmbedder": "dejacache.embedders",
    "CallableEmbedder": "dejacache.embedders",
    "HashingEmbedder": "dejacache.embedders",
    "MiniLMEmbedder": "dejacache.embedders",
    "MiniLML3Embedder": "dejacache.embedders",
    "OpenAIEmbedder": "dejacache.embedders",
    "SentenceTransformerEmbedder": "dejacache.embedders",
    "default_embedder": "dejacache.embedders",
    "Semantic": "dejacache._semantic.config",
    "load_config": "dejacache._config",
    "distance": "dejacache.distance",
    "sampling": "dejacache.sampling",
    "vectorstores": "dejacache.vectorstores",
    "stores": "dejacache.stores",
}

__all__ = [
    "EXCLUDED_PARAMS",
    "Cache",
    "ConfigError",
    "DejacacheError",
    "EmbedderUnavailableError",
    "EmbeddingError",
    "PreprocessError",
    "StoreUnavailable",
    "Hit",
    "VectorIndex",
    "PriceError",
    "UnknownModelError",
    "UsageError",
    "__version__",
    "call_meta",
    "completion_cost",
    "load_prices",
    "model_info",
    "normalize_usage",
    "strip_cache_control",
    "supports_prompt_caching",
    "wrap",
    *_LAZY,
]


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'dejacache' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(module_name)
    value = module if module_name == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value
    return value
