"""The ``litellm.caching.Cache`` subclass behind ``dejacache.integrations.litellm.enable``.

LiteLLM's caching handler talks to ``litellm.cache`` through its public methods:
``get_cache`` / ``async_get_cache`` (a call's keyword arguments), ``add_cache`` /
``async_add_cache`` (the answer and the call's arguments), ``async_add_cache_pipeline``
(embeddings, one entry per input item) and ``get_cache_key``. This class answers all of them
from a ``dejacache.Cache``: the request is the call's own arguments (LiteLLM's per-call
internals left out), keyed canonically by dejacache, so nothing LiteLLM's string key drops or
splits matters any more. Async embeddings are looked up by key alone (LiteLLM calls
``get_cache_key(input=item)`` and then ``async_get_cache(cache_key=...)``): the key is a token
naming the item's request, remembered for the few calls in between.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, cast

import litellm
from litellm.caching.base_cache import BaseCache
from litellm.caching.caching import Cache as _LiteLLMCacheBase
from litellm.types.caching import EMBEDDING_CACHE_FORMAT_VERSION, LiteLLMCacheType

from .._protocols import CacheLike

log = logging.getLogger("dejacache")

#: Keyword arguments LiteLLM's handler puts beside a call's own ones; never part of a request.
_INTERNAL = frozenset(
    {
        "litellm_logging_obj",
        "parent_otel_span",
        "cache_key",
        "preset_cache_key",
        "litellm_params",
        "dynamic_cache_object",
    }
)
#: Embedding items remembered between get_cache_key and async_get_cache (a bound, not a cache).
_PENDING_MAX = 4096


def _controls(cache_arg: Any, metadata: Any) -> Any:
    """LiteLLM's ``cache={...}`` in dejacache's spelling: ``s-max-age`` is ``s-maxage``, and
    ``metadata["redis_namespace"]`` names the namespace when ``cache`` does not."""
    if isinstance(cache_arg, Mapping):
        cache_arg = {("s-maxage" if k == "s-max-age" else k): v for k, v in cache_arg.items()}
    ns = metadata.get("redis_namespace") if isinstance(metadata, Mapping) else None
    if ns is not None and not (isinstance(cache_arg, Mapping) and "namespace" in cache_arg):
        cache_arg = {**(cache_arg if isinstance(cache_arg, Mapping) else {}), "namespace": ns}
    return cache_arg


def _request(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request a LiteLLM call makes: its arguments without LiteLLM's internals and without
    arguments left at None (LiteLLM drops those; ``temperature=None`` is no temperature)."""
    request = {k: v for k, v in kwargs.items() if v is not None and k not in _INTERNAL}
    if "cache" in request or "metadata" in request:
        ctl = _controls(request.get("cache"), request.get("metadata"))
        if ctl is not None:
            request["cache"] = ctl
    return request


def _is_embedding(request: Mapping[str, Any]) -> bool:
    # Of the call types this cache takes, only embeddings send `input` (chat: messages, text: prompt).
    return "input" in request and "messages" not in request and "prompt" not in request


def _items(request: Mapping[str, Any]) -> list[Any]:
    value = request["input"]
    return list(value) if isinstance(value, list) else [value]


def _item_request(request: Mapping[str, Any], item: Any) -> dict[str, Any]:
    return {**request, "input": item}


def _as_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, (str, bytes)):
        return json.loads(result)
    if hasattr(result, "model_dump_json"):
        return json.loads(result.model_dump_json(exclude_unset=True))
    if isinstance(result, dict):
        return dict(result)
    raise TypeError(f"cannot store a {type(result).__name__} answer")


def _meta(result: Any, doc: Mapping[str, Any], latency: float | None) -> dict[str, Any]:
    """What the call cost, for ``stats()``: latency, USD and tokens, as far as they are known."""
    meta: dict[str, Any] = {}
    if latency is not None and latency >= 0:
        meta["latency_s"] = latency
    hidden = getattr(result, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, Mapping) else None
    if cost is None:
        try:
            from .._cost.cost import completion_cost

            cost = completion_cost(doc)
        except Exception:  # noqa: BLE001 - a model without a price: no cost counted
            cost = None
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        meta["cost_usd"] = float(cost)
    usage = doc.get("usage")
    tokens = usage.get("total_tokens") if isinstance(usage, Mapping) else None
    if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
        meta["tokens"] = tokens
    return meta


class LiteLLMCache(_LiteLLMCacheBase):
    """``litellm.cache`` answering from a ``dejacache.Cache`` (see ``enable``)."""

    def __init__(self, cache: CacheLike, supported_call_types: list[str]):
        # max_messages=None: a long conversation is cached like any other request.
        super().__init__(
            type=LiteLLMCacheType.LOCAL, supported_call_types=cast(Any, supported_call_types), max_messages=None
        )
        self.dejacache = cache
        # A semantic lookup or store embeds text (milliseconds): async calls run it off the loop.
        self.offload = getattr(cache, "semantic", None) is not None
        self.cache: BaseCache = _Backend(self)
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._pending_lock = threading.Lock()
        # litellm_call_id -> when LiteLLM asked the cache: the provider latency a later hit saves.
        self._started: OrderedDict[str, float] = OrderedDict()

    def _start(self, kwargs: Mapping[str, Any]) -> None:
        call_id = kwargs.get("litellm_call_id")
        if isinstance(call_id, str):
            with self._pending_lock:
                self._started.setdefault(call_id, time.perf_counter())
                while len(self._started) > _PENDING_MAX:
                    self._started.popitem(last=False)

    def _latency(self, kwargs: Mapping[str, Any]) -> float | None:
        call_id = kwargs.get("litellm_call_id")
        with self._pending_lock:
            start = self._started.pop(call_id, None) if isinstance(call_id, str) else None
        return None if start is None else time.perf_counter() - start

    def __repr__(self) -> str:
        return f"LiteLLMCache({self.dejacache!r})"

    # -- keys ----------------------------------------------------------------------------------

    def get_cache_key(self, **kwargs: Any) -> str:
        """``<namespace>:<dejacache key>`` of the call; an embedding item's request is remembered
        for the ``async_get_cache(cache_key=...)`` that follows."""
        self._start(kwargs)
        request = _request(kwargs)
        ctl = self.dejacache.resolve_controls(request)  # bad controls: a clear ValueError for the caller
        try:
            token = f"{ctl.namespace}:{self.dejacache.key(request)}"
        except (TypeError, ValueError):  # cannot be keyed: LiteLLM's lookup with it finds nothing
            return f"{ctl.namespace}:not-cacheable"
        if _is_embedding(request) and not isinstance(request["input"], list):
            with self._pending_lock:
                self._pending[token] = request
                self._pending.move_to_end(token)
                while len(self._pending) > _PENDING_MAX:
                    self._pending.popitem(last=False)
        return token

    def _by_token(self, token: Any) -> dict[str, Any] | None:
        with self._pending_lock:
            return self._pending.pop(token, None) if isinstance(token, str) else None

    # -- reads ---------------------------------------------------------------------------------

    def _lookup(self, request: dict[str, Any]) -> Any:
        self.dejacache.resolve_controls(request)  # bad controls: a clear ValueError for the caller
        try:
            if _is_embedding(request):
                return self._lookup_embedding(request)
            hit = self.dejacache.get(request)
        except (TypeError, ValueError) as exc:  # a request the cache cannot key: the provider answers
            log.warning("dejacache: LiteLLM request not cacheable, calling the provider: %s", exc)
            return None
        if hit is None:
            return None
        response = hit.response
        if isinstance(response, dict):
            response["cache"] = True
        return response

    def _lookup_embedding(self, request: dict[str, Any]) -> Any:
        """A whole embedding response when every input item is stored, else None: a sync call
        cannot be split (LiteLLM sends all its items upstream); async calls are split by LiteLLM
        itself, item by item (``item_lookup``)."""
        hits = []
        for item in _items(request):
            hit = self.dejacache.get(_item_request(request, item))
            if hit is None:
                return None
            hits.append(hit)
        return self._whole(hits)

    @staticmethod
    def _whole(hits: list[Any]) -> dict[str, Any]:
        data, tokens = [], 0
        for i, hit in enumerate(hits):
            entry = hit.response
            data.append({"object": "embedding", "index": i, "embedding": entry["embedding"]})
            tokens += entry.get("prompt_tokens") or 0
        return {
            "object": "list",
            "model": hits[0].response.get("model"),
            "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "cache": True,
        }

    def get_cache(self, dynamic_cache_object: Any = None, **kwargs: Any) -> Any:
        if not (kwargs.keys() - {"cache_key"}) and "cache_key" in kwargs:
            return self.cache.get_cache(kwargs["cache_key"])
        self._start(kwargs)
        return self._lookup(_request(kwargs))

    async def async_get_cache(self, dynamic_cache_object: Any = None, **kwargs: Any) -> Any:
        if not (kwargs.keys() - {"cache_key"}) and "cache_key" in kwargs:
            return await self.cache.async_get_cache(kwargs["cache_key"])
        self._start(kwargs)
        request = _request(kwargs)
        if self.offload:  # embedding a text takes milliseconds: off the loop
            return await asyncio.to_thread(self._lookup, request)
        return self._lookup(request)

    def item_lookup(self, token: str) -> Any:
        """The stored embedding item a ``get_cache_key(input=item)`` token names, in LiteLLM's
        per-item form, or None."""
        request = self._by_token(token)
        if request is None:
            return None
        try:
            hit = self.dejacache.get(request)
        except (TypeError, ValueError) as exc:
            log.warning("dejacache: LiteLLM embedding item not cacheable: %s", exc)
            return None
        return None if hit is None else hit.response

    # -- writes --------------------------------------------------------------------------------

    def _store(self, result: Any, kwargs: Mapping[str, Any]) -> None:
        request = _request(kwargs)
        self.dejacache.resolve_controls(request)
        latency = self._latency(kwargs)
        try:
            if isinstance(result, litellm.EmbeddingResponse) or (
                _is_embedding(request) and not isinstance(result, str)
            ):
                self._store_embedding(result, request, kwargs, latency)
                return
            doc = _as_dict(result)
            doc.pop("cache", None)
            self.dejacache.put(request, doc, meta=_meta(result, doc, latency))
        except (TypeError, ValueError) as exc:  # fail-open: the caller has its answer already
            log.warning("dejacache: LiteLLM answer not stored: %s", exc)

    def _store_embedding(
        self, result: Any, request: dict[str, Any], kwargs: Mapping[str, Any], latency: float | None
    ) -> None:
        doc = _as_dict(result)
        items, data = _items(request), doc.get("data") or []
        if len(items) != len(data):
            log.warning("dejacache: %d embedding inputs but %d embeddings: not stored", len(items), len(data))
            return
        meta = _meta(result, doc, latency)
        share = {k: v / len(items) for k, v in meta.items() if k != "tokens"}
        usage = doc.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens") if isinstance(usage, Mapping) else None
        entries = []
        for i, (item, row) in enumerate(zip(items, sorted(data, key=lambda r: r.get("index", 0)))):
            per_item = None
            if isinstance(prompt_tokens, int):
                q, r = divmod(prompt_tokens, len(items))
                per_item = q + (1 if i < r else 0)
            entry = {
                "embedding": row.get("embedding"),
                "index": row.get("index"),
                "object": row.get("object", "embedding"),
                "model": doc.get("model"),
                "prompt_tokens": per_item,
                "prompt_tokens_details": None,
                "format_version": EMBEDDING_CACHE_FORMAT_VERSION,
            }
            item_meta = dict(share)
            if per_item is not None:
                item_meta["tokens"] = per_item
            entries.append((_item_request(request, item), entry, item_meta))
        self.dejacache.put_many(entries)

    def add_cache(self, result: Any, **kwargs: Any) -> None:
        self._store(result, kwargs)

    async def async_add_cache(self, result: Any, dynamic_cache_object: Any = None, **kwargs: Any) -> None:
        if self.offload:
            await asyncio.to_thread(self._store, result, kwargs)
        else:
            self._store(result, kwargs)

    async def async_add_cache_pipeline(self, result: Any, dynamic_cache_object: Any = None, **kwargs: Any) -> None:
        await self.async_add_cache(result, **kwargs)

    def should_use_cache(self, **kwargs: Any) -> bool:
        ctl = self.dejacache.resolve_controls(_request(kwargs))
        return ctl.read or ctl.write

    # -- maintenance ---------------------------------------------------------------------------

    async def ping(self) -> Any:
        return True

    async def disconnect(self) -> None:
        return None


class _Backend(BaseCache):
    """``litellm.cache.cache``, for LiteLLM code that reaches the backend by key alone: reads by
    a token from ``get_cache_key``, and ``flush_cache``. Writes need the whole request and come
    through ``LiteLLMCache.add_cache``."""

    def __init__(self, owner: LiteLLMCache):
        super().__init__(default_ttl=0)
        self.owner = owner

    def get_cache(self, key: Any, **kwargs: Any) -> Any:
        return self.owner.item_lookup(key)

    async def async_get_cache(self, key: Any, **kwargs: Any) -> Any:
        if self.owner.offload:
            return await asyncio.to_thread(self.owner.item_lookup, key)
        return self.owner.item_lookup(key)

    async def async_set_cache_pipeline(self, cache_list: Any, **kwargs: Any) -> None:
        raise NotImplementedError("dejacache stores LiteLLM answers through litellm.cache.add_cache (whole requests)")

    def flush_cache(self) -> None:
        self.owner.dejacache.clear()
