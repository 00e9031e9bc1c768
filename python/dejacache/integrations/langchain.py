"""dejacache as LangChain's LLM cache: ``DejacacheCache(cache)``.

>>> from langchain_core.globals import set_llm_cache                           # doctest: +SKIP
>>> set_llm_cache(DejacacheCache(dejacache.Cache(store="sqlite:///llm.db")))  # doctest: +SKIP

A ``langchain_core.caches.BaseCache`` (``lookup``, ``update``, ``clear`` and their async forms)
over a ``dejacache.Cache``: any store, exact hits, and semantic hits when the cache is semantic.
LangChain hands a cache two strings: the prompt (for chat models, the messages serialized) and
``llm_string`` (the model and every invocation parameter). The request stored is the messages,
read back out of the prompt, beside the whole ``llm_string``: exact keys cover both, and a
semantic hit may differ only in the wording embedded (by default the last message), never in
the model, its parameters or the earlier turns. Generations are stored as JSON (messages by
``langchain_core.messages.message_to_dict``, never pickle) and come back with their message
types, ``additional_kwargs``, ``response_metadata``, ``usage_metadata`` and ``generation_info``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.messages import message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, Generation

from .._protocols import CacheLike

__all__ = ["DejacacheCache"]

log = logging.getLogger("dejacache")

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "function"}
_STARTED_MAX = 4096


def _messages(prompt: str) -> tuple[str, list[dict[str, Any]]]:
    """(kind, OpenAI-style messages) of a LangChain prompt: a chat model's serialized messages,
    or a text model's prompt as one user message."""
    try:
        parsed = orjson.loads(prompt)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, list) and parsed and all(isinstance(m, dict) and "kwargs" in m for m in parsed):
        out = []
        for m in parsed:
            fields = dict(m["kwargs"])
            kind = fields.pop("type", None) or (m.get("id") or ["?"])[-1]
            out.append({"role": _ROLES.get(kind, kind), **fields, "content": fields.get("content", "")})
        return "chat", out
    return "text", [{"role": "user", "content": prompt}]


def _dump(generations: Sequence[Generation]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for g in generations:
        if isinstance(g, ChatGeneration):
            out.append({"message": message_to_dict(g.message), "generation_info": g.generation_info})
        else:
            out.append({"text": g.text, "generation_info": g.generation_info})
    return out


def _load(stored: Any) -> list[Generation]:
    out: list[Generation] = []
    for g in stored:
        if "message" in g:
            message = messages_from_dict([g["message"]])[0]
            out.append(ChatGeneration(message=message, generation_info=g.get("generation_info")))
        else:
            out.append(Generation(text=g["text"], generation_info=g.get("generation_info")))
    return out


def _meta(generations: Sequence[Generation], latency: float | None) -> dict[str, Any]:
    """What the call cost, for ``stats()``: latency, tokens and USD, from the messages' usage."""
    meta: dict[str, Any] = {} if latency is None else {"latency_s": latency}
    tokens, cost = 0, 0.0
    for g in generations:
        message = getattr(g, "message", None)
        usage = getattr(message, "usage_metadata", None) or {}
        tokens += int(usage.get("total_tokens") or 0)
        info = getattr(message, "response_metadata", None) or {}
        model = info.get("model_name") or info.get("model")  # OpenAI's / Anthropic's spelling
        if model and usage:
            try:
                from .._cost.cost import completion_cost

                cost += completion_cost(
                    {"prompt_tokens": usage.get("input_tokens", 0), "completion_tokens": usage.get("output_tokens", 0)},
                    model,
                )
            except Exception:  # noqa: BLE001 - a model without a price: no cost counted
                pass
    if tokens:
        meta["tokens"] = tokens
    if cost:
        meta["cost_usd"] = cost
    return meta


class DejacacheCache(BaseCache):
    """LangChain's ``BaseCache`` over a ``dejacache.Cache``.

    Args:
        cache: the ``dejacache.Cache`` (memory or any store; exact or semantic).
        namespace: the tenant these calls use (default: the cache's own); ``clear()`` then
            clears only that namespace.
    """

    def __init__(self, cache: CacheLike, *, namespace: str | None = None):
        if not callable(getattr(cache, "get", None)) or not callable(getattr(cache, "put", None)):
            raise TypeError(f"DejacacheCache takes a dejacache.Cache, not {cache!r}")
        self.cache = cache
        self.namespace = namespace
        # A semantic lookup or store embeds text (milliseconds): async calls run it off the loop.
        self.offload = getattr(cache, "semantic", None) is not None
        # (prompt, llm_string) -> when the lookup missed: the model latency a later hit saves.
        self._started: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DejacacheCache({self.cache!r}, namespace={self.namespace!r})"

    @staticmethod
    def request(prompt: str, llm_string: str) -> dict[str, Any]:
        """The dejacache request a (prompt, llm_string) pair is stored under."""
        kind, messages = _messages(prompt)
        return {"langchain": kind, "llm_string": llm_string, "messages": messages}

    # -- the BaseCache interface --------------------------------------------------------------

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        request = self.request(prompt, llm_string)
        try:
            hit = self.cache.get(request, namespace=self.namespace)
            if hit is not None:
                return _load(hit.response)
            with self._lock:
                self._started[(prompt, llm_string)] = time.perf_counter()
                while len(self._started) > _STARTED_MAX:
                    self._started.popitem(last=False)
            return None
        except (TypeError, ValueError, KeyError, IndexError) as exc:  # fail-open: the model answers
            log.warning("dejacache: LangChain lookup failed, calling the model: %s", exc)
            return None

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        request = self.request(prompt, llm_string)
        try:
            with self._lock:
                start = self._started.pop((prompt, llm_string), None)
            latency = None if start is None else time.perf_counter() - start
            self.cache.put(request, _dump(return_val), namespace=self.namespace, meta=_meta(return_val, latency))
        except (TypeError, ValueError) as exc:  # fail-open: the caller has its answer already
            log.warning("dejacache: LangChain answer not stored: %s", exc)

    def clear(self, **kwargs: Any) -> None:
        """Removes every entry of this cache's namespace (of every namespace when it has none);
        ``clear(namespace="x")`` clears that one."""
        self.cache.clear(kwargs.get("namespace", self.namespace))

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        if self.offload:
            return await asyncio.to_thread(self.lookup, prompt, llm_string)
        return self.lookup(prompt, llm_string)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        if self.offload:
            await asyncio.to_thread(self.update, prompt, llm_string, return_val)
        else:
            self.update(prompt, llm_string, return_val)

    async def aclear(self, **kwargs: Any) -> None:
        await asyncio.to_thread(self.clear, **kwargs)
