"""OpenAI embeddings: each input item cached on its own."""

from __future__ import annotations

import logging
import time
from typing import Any

from openai.types import CreateEmbeddingResponse

from ..._cost.cost import call_meta
from ..base import WrapContext, build_request, dump, pop_controls, rebuild

log = logging.getLogger("dejacache")

# -- embeddings: cached per input item ------------------------------------------------------


class _EmbeddingPlan:
    """One embeddings call split into items answered by the cache and items sent upstream."""

    __slots__ = ("ctx", "requests", "found", "missing", "single", "caching", "controls", "namespace")

    def __init__(self, ctx: WrapContext, kwargs: dict):
        self.ctx = ctx
        self.caching, self.controls = pop_controls(kwargs)
        self.namespace = ctx.namespace_for(self.controls)
        inp: Any = kwargs.get("input")
        if not isinstance(inp, (str, list)) and hasattr(inp, "__iter__"):
            inp = kwargs["input"] = list(inp)
        self.single = isinstance(inp, str) or (isinstance(inp, list) and bool(inp) and isinstance(inp[0], int))
        items = [inp] if self.single else list(inp)
        base = build_request("openai.embeddings", ctx, {k: v for k, v in kwargs.items() if k != "input"})
        self.requests = [{**base, "input": item} for item in items]
        cache = ctx.cache
        self.found = [
            cache.get(r, caching=self.caching, cache=self.controls, namespace=self.namespace) for r in self.requests
        ]
        self.missing = [i for i, hit in enumerate(self.found) if hit is None]

    def upstream_kwargs(self, kwargs: dict) -> dict:
        if len(self.missing) == len(self.requests):
            return kwargs  # nothing cached: send the caller's own request unchanged
        return {**kwargs, "input": [self.requests[i]["input"] for i in self.missing]}

    def finish(self, response: Any, latency: float) -> Any:
        """Stores what came back per item; returns the answer in the caller's order."""
        cache = self.ctx.cache
        if response is not None:
            share = call_meta(
                {"model": response.model, "usage": dump(response.usage)} if response.usage else {}, latency_s=latency
            )
            n = len(self.missing)
            tokens = share.pop("tokens", 0)
            meta = {k: v / n for k, v in share.items()}
            for j, item in enumerate(response.data):
                i = self.missing[item.index]
                # whole tokens per item; the remainder goes to the first ones
                meta["tokens"] = tokens // n + (j < tokens % n)
                stored = {"embedding": item.embedding, "model": response.model}
                try:
                    cache.put(
                        self.requests[i],
                        stored,
                        caching=self.caching,
                        cache=self.controls,
                        namespace=self.namespace,
                        meta=meta,
                    )
                except (TypeError, ValueError) as exc:  # NaN in a vector, say: answer it, unstored
                    log.warning("dejacache: embedding not stored: %s", exc)
            if len(self.missing) == len(self.requests):
                return response
        data: list[Any] = []
        fresh = {self.missing[item.index]: item for item in response.data} if response is not None else {}
        model = response.model if response is not None else None
        for i, hit in enumerate(self.found):
            if hit is None:
                data.append(fresh[i].model_copy(update={"index": i}))
            else:
                model = model or hit.response.get("model")
                data.append({"object": "embedding", "index": i, "embedding": hit.response["embedding"], "cache": True})
        answer: dict[str, Any] = {
            "object": "list",
            "data": data,
            "model": model or "",
            "usage": dump(response.usage)
            if response is not None and response.usage
            else {"prompt_tokens": 0, "total_tokens": 0},
        }
        if response is None:
            answer["cache"] = True
        return rebuild(CreateEmbeddingResponse, answer)


def _plan_embeddings(ctx: WrapContext, kwargs: dict) -> _EmbeddingPlan | None:
    """The plan, or None when the call goes to the provider untouched: no items (let the
    provider say what it thinks of that) or inputs that cannot be keyed."""
    try:
        plan = _EmbeddingPlan(ctx, kwargs)
    except TypeError as exc:
        log.warning("dejacache: embeddings request not cacheable, calling the provider directly: %s", exc)
        return None
    return plan if plan.requests else None


def embeddings_sync(ctx: WrapContext, original: Any, kwargs: dict) -> Any:
    if kwargs.get("caching") is False:
        kwargs.pop("caching")
        kwargs.pop("cache", None)
        return original(**kwargs)
    plan = _plan_embeddings(ctx, kwargs)
    if plan is None:
        return original(**kwargs)
    if not plan.missing:
        return plan.finish(None, 0.0)
    start = time.perf_counter()
    response = original(**plan.upstream_kwargs(kwargs))
    return plan.finish(response, time.perf_counter() - start)


async def embeddings_async(ctx: WrapContext, original: Any, kwargs: dict) -> Any:
    if kwargs.get("caching") is False:
        kwargs.pop("caching")
        kwargs.pop("cache", None)
        return await original(**kwargs)
    plan = _plan_embeddings(ctx, kwargs)
    if plan is None:
        return await original(**kwargs)
    if not plan.missing:
        return plan.finish(None, 0.0)
    start = time.perf_counter()
    response = await original(**plan.upstream_kwargs(kwargs))
    return plan.finish(response, time.perf_counter() - start)
