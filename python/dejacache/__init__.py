"""dejacache: an LLM call cache with a Rust core.

>>> import dejacache
>>> cache = dejacache.Cache()
>>> cache.call({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, my_llm)  # doctest: +SKIP

Importing this package loads the compiled core and nothing else: no files, no network, no models.
"""

from ._cache import Cache
from ._cache_control import strip_cache_control
from ._controls import EXCLUDED_PARAMS
from ._core import __version__
from ._cost import (
    PriceError,
    UnknownModelError,
    call_meta,
    completion_cost,
    load_prices,
    model_info,
    supports_prompt_caching,
)
from ._hit import Hit
from ._usage import UsageError, normalize_usage
from ._wrap import wrap

__all__ = [
    "EXCLUDED_PARAMS",
    "Cache",
    "Hit",
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
]
