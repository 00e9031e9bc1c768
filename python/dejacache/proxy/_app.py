"""The ASGI app: routes, authentication, body limits, errors in the caller's format."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._calls import KINDS, Call
from ._config import ProxyConfig, load_proxy_config
from ._errors import ProxyError
from ._gateway import Gateway
from ._keys import KEYS_NAMESPACE, Keys, Principal
from ._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ._metrics import Metrics
from ._upstream import Upstream

log = logging.getLogger("dejacache.proxy")


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key") or request.headers.get("api-key")


async def who(gw: Gateway, request: Request, provider: str = "openai") -> Principal:
    principal = await gw.principal(bearer(request))
    if principal is None:
        raise ProxyError(
            401,
            "missing or invalid API key: send the master key or a virtual key",
            "authentication_error",
            provider=provider,
        )
    return principal


async def read_json(request: Request, limit: int, provider: str = "openai") -> dict:
    """The request body as a JSON object: 413 past ``limit`` bytes, 400 when not JSON."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ProxyError(
            413, f"request body over the limit of {limit} bytes", "invalid_request_error", provider=provider
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProxyError(
                413, f"request body over the limit of {limit} bytes", "invalid_request_error", provider=provider
            )
        chunks.append(chunk)
    try:
        doc = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise ProxyError(400, f"the request body is not valid JSON: {exc}", "invalid_request_error", provider=provider)
    if not isinstance(doc, dict):
        raise ProxyError(400, "the request body must be a JSON object", "invalid_request_error", provider=provider)
    return doc


_DIRECTIVES = {"no-cache": "no-cache", "no-store": "no-store"}


def controls_of(doc: dict, request: Request, provider: str) -> tuple[Any, dict | None]:
    """(caching, cache controls) from the body's ``cache`` / ``caching`` fields (taken out of
    the body) and the ``Cache-Control`` header (``no-cache``, ``no-store``, ``max-age=N``);
    the body wins over the header."""
    controls: dict[str, Any] = {}
    header = request.headers.get("cache-control")
    if header:
        for part in header.split(","):
            name, _, value = part.strip().lower().partition("=")
            if name in _DIRECTIVES:
                controls[_DIRECTIVES[name]] = True
            elif name in ("max-age", "s-maxage"):
                try:
                    controls["s-maxage"] = float(value)
                except ValueError:
                    raise ProxyError(
                        400,
                        f"Cache-Control {name} must be a number of seconds, not {value!r}",
                        "invalid_request_error",
                        provider=provider,
                    ) from None
    body_controls = doc.pop("cache", None)
    if body_controls is not None:
        if not isinstance(body_controls, Mapping):
            raise ProxyError(
                400,
                "the 'cache' field must be an object of controls such as {\"no-cache\": true}",
                "invalid_request_error",
                param="cache",
                provider=provider,
            )
        controls.update(body_controls)
    caching = doc.pop("caching", None)
    return caching, controls or None


async def _json_route(request: Request, kind_name: str) -> Response:
    gw: Gateway = request.app.state.gateway
    kind = KINDS[kind_name]
    start = time.perf_counter()
    outcome = "error"
    try:
        principal = await who(gw, request, kind.provider)
        doc = await read_json(request, gw.config.max_body_bytes, kind.provider)
        model = doc.get("model")
        route = gw.config.route(model, kind.provider)
        if route is None:
            other = gw.config.route(model)
            hint = (
                f" (it is an {other.provider} model: use {'/v1/messages' if other.provider == 'anthropic' else '/v1/chat/completions'})"
                if other is not None
                else ""
            )
            raise ProxyError(
                404,
                f"model {model!r} is not served here{hint}; GET /v1/models lists the models",
                "model_not_found" if kind.provider == "openai" else "not_found_error",
                param="model",
                provider=kind.provider,
            )
        caching, controls = controls_of(doc, request, kind.provider)
        denied = gw.keys.check_controls(principal, controls)
        if denied is not None:
            raise ProxyError(403, denied, "permission_error", param="cache", provider=kind.provider)
        try:
            namespace = gw.keys.namespace_of(principal, controls)
        except ValueError as exc:
            raise ProxyError(403, str(exc), "permission_error", provider=kind.provider) from None
        call = Call(kind, route, doc, caching, controls, namespace, request.headers)
        response, outcome = await gw.answer(call, request)
    except ProxyError as exc:
        exc.provider = kind.provider
        response = exc.response()
    status = response.status_code
    gw.metrics.observe(kind_name, status, outcome if status < 400 else "error", time.perf_counter() - start)
    return response


def _route_for(kind_name: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return await _json_route(request, kind_name)

    endpoint.__name__ = f"{kind_name}_endpoint"
    return endpoint


async def models(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        await who(gw, request)
    except ProxyError as exc:
        return exc.response()
    seen: dict[str, dict] = {}
    for r in gw.config.models:
        if "*" not in r.name and r.name not in seen:
            seen[r.name] = {"id": r.name, "object": "model", "created": 0, "owned_by": r.provider}
    return _json({"object": "list", "data": list(seen.values())})


async def model_info(request: Request) -> Response:
    """Per model: provider, upstream model, prices, supports_prompt_caching, context window."""
    from .._cost.cost import model_info as price_info

    gw: Gateway = request.app.state.gateway
    try:
        await who(gw, request)
    except ProxyError as exc:
        return exc.response()
    data = []
    for r in gw.config.models:
        info: dict[str, Any] = {}
        if r.model != "*":
            try:
                entry = price_info(r.model)
                info = {
                    k: entry.get(k)
                    for k in (
                        "key",
                        "max_input_tokens",
                        "max_output_tokens",
                        "input_cost_per_token",
                        "output_cost_per_token",
                        "cache_read_input_token_cost",
                        "cache_creation_input_token_cost",
                        "mode",
                    )
                    if k in entry
                }
                info["supports_prompt_caching"] = bool(entry.get("supports_prompt_caching", False))
            except (KeyError, ValueError):
                info = {"supports_prompt_caching": False}
        info.update(r.info)
        data.append(
            {
                "model_name": r.name,
                "litellm_params": {"model": f"{r.provider}/{r.model}", "api_base": r.api_base},
                "model_info": info,
            }
        )
    return _json({"data": data})


async def health(request: Request) -> Response:
    """Liveness; ``pid`` tells which worker answered."""
    return _json({"status": "healthy", "pid": os.getpid()})


async def readiness(request: Request) -> Response:
    """Ready when the store answers a read: a shared store that faults or times out on the probe,
    or whose breaker is open, makes this a 503 (calls still go to the provider: fail-open)."""
    gw: Gateway = request.app.state.gateway
    cache = gw.cache

    def probe() -> tuple[int, dict]:
        before = cache.stats().get("store_errors", 0)
        cache.get({"dejacache.proxy": "readiness probe"}, namespace=KEYS_NAMESPACE)
        return before, cache.stats()

    try:
        before, stats = await gw.store_io(probe)
    except Exception as exc:  # noqa: BLE001 - a readiness probe reports, never raises
        return _json({"status": "unhealthy", "error": type(exc).__name__}, 503)
    breaker = stats.get("breaker")
    if breaker not in (None, "closed"):
        return _json({"status": "unhealthy", "store": f"breaker {breaker}"}, 503)
    if stats.get("store_errors", 0) > before:
        return _json({"status": "unhealthy", "store": "the probe read failed"}, 503)
    return _json({"status": "healthy", "store": "reachable", "entries": stats.get("entries")})


async def metrics(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        stats = await gw.store_io(gw.cache.stats)
    except Exception:  # noqa: BLE001 - metrics never fail on a store fault
        stats = None
    return Response(gw.metrics.render(stats), media_type=METRICS_CONTENT_TYPE)


def build_cache(config: ProxyConfig) -> Any:
    from .._cache import Cache

    return Cache(**config.cache_kwargs)


def create_app(
    config: ProxyConfig | str | os.PathLike | Mapping[str, Any] | None = None, cache: Any = None
) -> Starlette:
    """The proxy as an ASGI app. ``config``: a ``ProxyConfig``, a YAML path, a dict, or None
    (the documented default); ``cache``: a ``dejacache.Cache`` to use instead of the config's."""
    if not isinstance(config, ProxyConfig):
        config = load_proxy_config(config)
    if cache is None:
        cache = build_cache(config)
    keys = Keys(config.master_key, config.store_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        upstream = Upstream(config.upstream_timeout, config.master_key is None)
        app.state.gateway.upstream = upstream
        try:
            yield
        finally:
            await upstream.close()

    routes = []
    for kind_name, paths in (
        ("chat", ("/v1/chat/completions", "/chat/completions")),
        ("completions", ("/v1/completions", "/completions")),
        ("responses", ("/v1/responses", "/responses")),
        ("messages", ("/v1/messages",)),
    ):
        for path in paths:
            routes.append(Route(path, _route_for(kind_name), methods=["POST"]))
    from ._admin import admin_routes
    from ._embeddings import embeddings
    from ._openapi import openapi

    routes += [
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/model/info", model_info, methods=["GET"]),
        Route("/v1/model/info", model_info, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/health/liveliness", health, methods=["GET"]),
        Route("/health/readiness", readiness, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *admin_routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    gw = Gateway(config, cache, None, Metrics(), keys)
    app.state.gateway = gw
    return app
