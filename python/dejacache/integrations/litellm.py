"""dejacache as LiteLLM's cache: ``enable(cache)`` and ``disable()``.

>>> import dejacache, litellm                                   # doctest: +SKIP
>>> from dejacache.integrations import litellm as dc_litellm     # doctest: +SKIP
>>> dc_litellm.enable(dejacache.Cache(store="sqlite:///llm.db"))  # doctest: +SKIP
>>> litellm.completion(model="gpt-4o-mini", messages=msgs)        # doctest: +SKIP

``enable`` sets ``litellm.cache`` (LiteLLM's own hook for a cache object) to a
``litellm.caching.Cache`` whose reads and writes go to the dejacache ``Cache``: its canonical
key (key order and ``1`` vs ``1.0`` never matter; every parameter that can change the answer is
in it, provider-specific ones such as ollama's ``num_ctx`` too), its store (memory, SQLite,
Redis, SQL), semantic hits, namespaces, and its ``stats()`` savings. LiteLLM's per-call controls
keep working: ``caching=True/False`` and ``cache={"no-cache", "no-store", "ttl", "s-maxage",
"namespace", "use-cache"}`` (``metadata={"redis_namespace": ...}`` picks the namespace too).
LiteLLM marks a hit itself (``response._hidden_params["cache_hit"]``), and the response carries
``cache=True``. A streamed call is answered by a replayed stream; embeddings are cached per
input item. LiteLLM is imported only when ``enable`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._protocols import CacheLike
    from ._litellm_cache import LiteLLMCache

__all__ = ["enable", "disable", "SUPPORTED_CALL_TYPES"]

#: The LiteLLM call types answered from the cache by default.
SUPPORTED_CALL_TYPES: tuple[str, ...] = (
    "completion",
    "acompletion",
    "text_completion",
    "atext_completion",
    "embedding",
    "aembedding",
)

# What litellm.cache was before enable(), restored by disable().
_saved: dict[str, Any] = {}


def enable(cache: CacheLike, *, supported_call_types: tuple[str, ...] | list[str] | None = None) -> LiteLLMCache:
    """Makes LiteLLM answer calls from ``cache`` (a ``dejacache.Cache``) and store answers in it.

    Returns the ``litellm.caching.Cache`` installed as ``litellm.cache``. ``supported_call_types``
    narrows which LiteLLM calls use it (default ``SUPPORTED_CALL_TYPES``). Calling ``enable``
    again replaces the cache; ``disable()`` puts back what ``litellm.cache`` was before.
    """
    import litellm

    from ._litellm_cache import LiteLLMCache

    types = SUPPORTED_CALL_TYPES if supported_call_types is None else tuple(supported_call_types)
    unknown = [t for t in types if t not in SUPPORTED_CALL_TYPES]
    if unknown:
        raise ValueError(f"supported_call_types: {unknown} not supported; choose from {list(SUPPORTED_CALL_TYPES)}")
    adapter = LiteLLMCache(cache, supported_call_types=list(types))
    if not isinstance(litellm.cache, LiteLLMCache):
        _saved["previous"] = litellm.cache
    litellm.cache = adapter
    return adapter


def disable() -> None:
    """Stops LiteLLM using dejacache: ``litellm.cache`` goes back to what it was before ``enable``
    (LiteLLM's caching switched off when that was nothing). Nothing stored is lost."""
    import litellm

    from ._litellm_cache import LiteLLMCache

    if not isinstance(litellm.cache, LiteLLMCache):
        return
    previous = _saved.pop("previous", None)
    if previous is None:
        litellm.disable_cache()
    else:
        litellm.cache = previous


def __getattr__(name: str) -> Any:
    if name == "LiteLLMCache":  # imports LiteLLM: only on use
        from ._litellm_cache import LiteLLMCache

        return LiteLLMCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
