"""Admin routes, master key only: cache entries (delete, stats, clear one namespace) and
virtual keys (create, list, revoke; LiteLLM's /key/generate, /key/list, /key/delete)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._app import bearer, read_json
from ._errors import ProxyError
from ._gateway import Gateway
from ._keys import KEYS_NAMESPACE


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


async def _admin(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    if not gw.keys.enabled:
        raise ProxyError(
            403, "admin routes need a master key: set general_settings.master_key in the config", "permission_error"
        )
    principal = await gw.principal(bearer(request))
    if principal is None:
        raise ProxyError(401, "missing or invalid API key", "authentication_error")
    if not principal.master:
        raise ProxyError(403, "this route needs the master key", "permission_error")
    return gw


def _namespace(value: Any, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ProxyError(400, "namespace must be a non-empty string", "invalid_request_error", param="namespace")
    if value == KEYS_NAMESPACE:
        raise ProxyError(403, f"namespace {KEYS_NAMESPACE!r} holds the virtual keys", "permission_error")
    return value


def _admin_route(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            gw = await _admin(request)
            doc = await read_json(request, gw.config.max_body_bytes) if request.method == "POST" else {}
            return await gw.store_io(handler, gw, doc)  # every admin route reads or writes the store
        except ProxyError as exc:
            return exc.response()

    endpoint.__name__ = handler.__name__
    return endpoint


def cache_delete(gw: Gateway, doc: dict) -> Response:
    """``{"keys": ["<x-dejacache-key>", ...], "namespace": "..."}``: removes those entries."""
    keys = doc.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ProxyError(
            400, "send {'keys': [...]}: the x-dejacache-key values to remove", "invalid_request_error", param="keys"
        )
    ns = _namespace(doc.get("namespace"), required=False)
    deleted = [k for k in keys if gw.cache.delete_key(k, namespace=ns)]
    return _json({"status": "success", "deleted": deleted, "not_found": [k for k in keys if k not in deleted]})


def cache_stats(gw: Gateway, doc: dict) -> Response:
    stats = gw.cache.stats()
    stats.get("namespaces", {}).pop(KEYS_NAMESPACE, None)
    return _json(stats)


def cache_clear(gw: Gateway, doc: dict) -> Response:
    """``{"namespace": "..."}``: removes every entry of one namespace."""
    ns = _namespace(doc.get("namespace"), required=True)
    return _json({"status": "success", "namespace": ns, "removed": gw.cache.clear(ns)})


def key_generate(gw: Gateway, doc: dict) -> Response:
    """``{"namespace": "tenant-a", "controls": ["no-cache"], "alias": "..."}`` -> the new key,
    shown once."""
    ns = _namespace(doc.get("namespace"), required=True)
    assert ns is not None
    try:
        record = gw.keys.create(ns, doc.get("controls"), doc.get("alias"))
    except ValueError as exc:
        raise ProxyError(400, str(exc), "invalid_request_error") from None
    return _json(record)


def key_list(gw: Gateway, doc: dict) -> Response:
    return _json({"keys": gw.keys.list()})


def key_delete(gw: Gateway, doc: dict) -> Response:
    """``{"keys": ["sk-dc-..." or key ids]}``: revokes them at once, on every worker."""
    keys = doc.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ProxyError(400, "send {'keys': [...]}: keys or key ids to revoke", "invalid_request_error", param="keys")
    revoked = [k for k in keys if gw.keys.revoke(k)]
    return _json({"deleted_keys": revoked, "not_found": [k for k in keys if k not in revoked]})


def admin_routes() -> list[Route]:
    return [
        Route("/cache/delete", _admin_route(cache_delete), methods=["POST"]),
        Route("/cache/stats", _admin_route(cache_stats), methods=["GET"]),
        Route("/cache/clear", _admin_route(cache_clear), methods=["POST"]),
        Route("/key/generate", _admin_route(key_generate), methods=["POST"]),
        Route("/key/list", _admin_route(key_list), methods=["GET"]),
        Route("/key/delete", _admin_route(key_delete), methods=["POST"]),
    ]
