"""POST /v1/embeddings, cached per input item as the SDK wrappers cache it: only the items not
in the cache go upstream, and the answer keeps the caller's order. Only exact hits serve an
embedding (a vector of a similar text is not the vector of this one)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .._cost.cost import call_meta
from ._app import controls_of, read_json, who
from ._calls import ENDPOINT_FIELD, PROVIDER_FIELD
from ._errors import ProxyError
from ._gateway import Gateway
from ._upstream import UpstreamError


def _items(inp: Any) -> tuple[list, bool] | None:
    """(items, single) of an ``input``: a string or token list is one item; None when there
    is nothing to cache per item (let the provider judge it)."""
    if isinstance(inp, str):
        return [inp], True
    if isinstance(inp, list) and inp:
        if all(isinstance(i, int) and not isinstance(i, bool) for i in inp):
            return [inp], True
        return list(inp), False
    return None


async def embeddings(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    start = time.perf_counter()
    outcome = "error"
    try:
        principal = await who(gw, request)
        doc = await read_json(request, gw.config.max_body_bytes)
        route = gw.config.route(doc.get("model"), "openai")
        if route is None:
            raise ProxyError(
                404,
                f"model {doc.get('model')!r} is not served here; GET /v1/models lists the models",
                "model_not_found",
            )
        caching, controls = controls_of(doc, request, "openai")
        denied = gw.keys.check_controls(principal, controls)
        if denied is not None:
            raise ProxyError(403, denied, "permission_error", param="cache")
        try:
            namespace = gw.keys.namespace_of(principal, controls)
        except ValueError as exc:
            raise ProxyError(403, str(exc), "permission_error") from None
        response, outcome = await _answer(gw, request, route, doc, caching, controls, namespace)
    except ProxyError as exc:
        response = exc.response()
    status = response.status_code
    gw.metrics.observe("embeddings", status, outcome if status < 400 else "error", time.perf_counter() - start)
    return response


async def _answer(
    gw: Gateway, request: Request, route: Any, doc: dict, caching: Any, controls: Any, namespace: Any
) -> tuple[Response, str]:
    cache = gw.cache
    sent = {**doc, "model": route.upstream_model(doc["model"])}
    split = _items(sent.get("input"))
    base = {ENDPOINT_FIELD: "openai.embeddings", PROVIDER_FIELD: route.identity}
    base.update({k: v for k, v in sent.items() if k != "input"})
    requests: list[dict] = []
    found: list[Any] = []
    if split is not None and "embeddings" in gw.config.cached_routes:
        try:
            ctl = cache.resolve_controls(base, caching, controls, namespace)
        except ValueError as exc:
            raise ProxyError(400, str(exc), "invalid_request_error", param="cache") from None
        requests = [{**base, "input": item} for item in split[0]]

        def look_up() -> list[Any]:
            hits = [cache.get(r, caching=caching, cache=controls, namespace=namespace) for r in requests]
            return [hit if hit is not None and hit.source == "exact" else None for hit in hits]

        try:
            found = await gw.store_io(look_up) if ctl.read else [None] * len(requests)
        except (TypeError, ValueError):
            requests, found = [], []
    missing = [i for i, hit in enumerate(found) if hit is None] if requests else []
    headers = {"x-dejacache": "exact" if requests and not missing else "miss"}
    if len(requests) == 1:
        headers["x-dejacache-key"] = cache.key(requests[0])
    if requests and not missing:  # every item from the cache
        data = [{"object": "embedding", "index": i, "embedding": h.response["embedding"]} for i, h in enumerate(found)]
        for h in found:
            gw.metrics.saved(h.meta)
        answer = {"object": "list", "data": data, "model": found[0].response.get("model") or doc["model"]}
        answer["usage"] = {"prompt_tokens": 0, "total_tokens": 0}
        saved = sum(h.meta.get("cost_usd", 0) for h in found if isinstance(h.meta, dict))
        headers.update({"x-dejacache-response-cost": "0", "x-dejacache-saved-usd": f"{saved:.10f}".rstrip("0")})
        return Response(orjson.dumps(answer), media_type="application/json", headers=headers), "exact"
    upstream_body = sent
    if requests and len(missing) < len(requests):
        upstream_body = {**sent, "input": [requests[i]["input"] for i in missing]}
    t0 = time.perf_counter()
    try:
        resp = await gw.client().send(
            route, "/embeddings", orjson.dumps(upstream_body), request.headers, model=doc.get("model")
        )
    except UpstreamError as exc:
        gw.metrics.upstream_error(exc.status)
        raise ProxyError(exc.status, str(exc), "upstream_error") from None
    latency = time.perf_counter() - t0
    if resp.status_code != 200:
        gw.metrics.upstream_error(resp.status_code)
        ctype = resp.headers.get("content-type", "application/json")
        return Response(resp.content, status_code=resp.status_code, headers=headers, media_type=ctype), "error"
    if not requests:
        return Response(resp.content, media_type="application/json", headers=headers), "miss"
    try:
        answer = orjson.loads(resp.content)
        fresh = {missing[item["index"]]: item for item in answer["data"]}
        if set(fresh) != set(missing):
            raise ValueError("the provider answered other items than it was asked")
    except (ValueError, KeyError, TypeError, IndexError):
        return Response(resp.content, media_type="application/json", headers=headers), "miss"
    share = call_meta({"model": answer.get("model"), "usage": answer.get("usage")}, latency_s=latency)
    n = len(missing)
    tokens = share.pop("tokens", 0)

    def store_items() -> None:
        for j, i in enumerate(missing):
            meta = {k: v / n for k, v in share.items()}
            meta["tokens"] = tokens // n + (j < tokens % n)
            stored = {"embedding": fresh[i]["embedding"], "model": answer.get("model")}
            try:
                cache.put(requests[i], stored, caching=caching, cache=controls, namespace=namespace, meta=meta)
            except (TypeError, ValueError):
                pass  # answered, unstored (a NaN in a vector, say)

    await gw.store_io(store_items)
    if len(missing) == len(requests):
        return Response(resp.content, media_type="application/json", headers=headers), "miss"
    data = []
    for i, hit in enumerate(found):
        vector = fresh[i]["embedding"] if hit is None else hit.response["embedding"]
        data.append({"object": "embedding", "index": i, "embedding": vector})
    answer["data"] = data
    return Response(orjson.dumps(answer), media_type="application/json", headers=headers), "miss"
