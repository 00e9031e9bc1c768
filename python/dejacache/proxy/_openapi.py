"""GET /openapi.json: the proxy's routes as an OpenAPI 3.1 document.

Request bodies are described as far as the proxy itself reads them (``model``, dejacache's
``cache`` controls, ``stream``); every other field goes to the provider as it is sent.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_CONTROLS = {
    "type": "object",
    "description": "dejacache cache controls (LiteLLM's cache field)",
    "properties": {
        "no-cache": {"type": "boolean"},
        "no-store": {"type": "boolean"},
        "ttl": {"type": "number", "minimum": 0},
        "s-maxage": {"type": "number", "minimum": 0},
        "namespace": {"type": "string", "minLength": 1},
        "use-cache": {"type": "boolean"},
    },
    "additionalProperties": False,
}
_HEADERS = {
    "x-dejacache": {"schema": {"type": "string", "enum": ["exact", "semantic", "miss"]}},
    "x-dejacache-key": {"schema": {"type": "string"}},
    "x-dejacache-similarity": {"schema": {"type": "string"}, "description": "semantic hits"},
    "x-dejacache-response-cost": {"schema": {"type": "string"}, "description": "USD of this answer"},
    "x-dejacache-response-cost-breakdown": {
        "schema": {"type": "string"},
        "description": "input=..;output=..;cache_read=..;cache_creation=..",
    },
    "x-dejacache-saved-usd": {"schema": {"type": "string"}},
}


def _body(required: list[str], **props: Any) -> dict:
    schema = {
        "type": "object",
        "required": required,
        "properties": {"model": {"type": "string"}, "cache": _CONTROLS, "stream": {"type": "boolean"}, **props},
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _responses(streams: bool = True) -> dict:
    ok: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if streams:
        ok["text/event-stream"] = {"schema": {"type": "string"}}
    error = {"content": {"application/json": {"schema": _ERROR}}}
    return {
        "200": {"description": "the provider's answer, or the cache's", "headers": _HEADERS, "content": ok},
        "400": {"description": "not JSON, or bad cache controls", **error},
        "401": {"description": "missing or invalid key (when a master key is set)", **error},
        "403": {"description": "a control this key may not use", **error},
        "404": {"description": "a model the proxy does not serve", **error},
        "413": {"description": "body over the size limit", **error},
        "default": {"description": "the provider's own error, passed through", **error},
    }


_MESSAGES = {"type": "array", "items": {"type": "object"}}
_JSON_ANY = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def _admin(summary: str, method: str, body: dict | None = None) -> dict:
    op: dict[str, Any] = {"summary": summary, "security": [{"bearer": []}], "responses": _JSON_ANY}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return {method: op}


def document() -> dict:
    keys_body = {
        "type": "object",
        "required": ["keys"],
        "properties": {"keys": {"type": "array", "items": {"type": "string"}}},
    }
    paths = {
        "/v1/chat/completions": {
            "post": {
                "summary": "OpenAI chat completions, cached",
                "requestBody": _body(["model", "messages"], messages=_MESSAGES),
                "responses": _responses(),
            }
        },
        "/v1/completions": {
            "post": {
                "summary": "OpenAI text completions, cached",
                "requestBody": _body(["model", "prompt"]),
                "responses": _responses(),
            }
        },
        "/v1/responses": {
            "post": {
                "summary": "OpenAI Responses API, cached",
                "requestBody": _body(["model", "input"]),
                "responses": _responses(),
            }
        },
        "/v1/embeddings": {
            "post": {
                "summary": "OpenAI embeddings, cached per input item",
                "requestBody": _body(["model", "input"]),
                "responses": _responses(streams=False),
            }
        },
        "/v1/messages": {
            "post": {
                "summary": "Anthropic messages, cached",
                "requestBody": _body(["model", "messages", "max_tokens"], messages=_MESSAGES),
                "responses": _responses(),
            }
        },
        "/v1/models": {"get": {"summary": "models served", "responses": _JSON_ANY}},
        "/model/info": {"get": {"summary": "models with prices and prompt-caching support", "responses": _JSON_ANY}},
        "/v1/model/info": {"get": {"summary": "same as /model/info", "responses": _JSON_ANY}},
        "/health": {"get": {"summary": "liveness", "responses": _JSON_ANY}},
        "/health/readiness": {"get": {"summary": "readiness: the store answers", "responses": _JSON_ANY}},
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (every worker's counts added up)",
                "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }
        },
        "/cache/delete": _admin("remove entries by x-dejacache-key", "post", keys_body),
        "/cache/stats": _admin("Cache.stats()", "get"),
        "/cache/clear": _admin(
            "remove every entry of one namespace",
            "post",
            {"type": "object", "required": ["namespace"], "properties": {"namespace": {"type": "string"}}},
        ),
        "/key/generate": _admin(
            "create a virtual key for one namespace",
            "post",
            {
                "type": "object",
                "required": ["namespace"],
                "properties": {
                    "namespace": {"type": "string"},
                    "controls": {"type": "array", "items": {"type": "string"}},
                    "alias": {"type": "string"},
                },
            },
        ),
        "/key/list": _admin("list virtual keys (never the keys themselves)", "get"),
        "/key/delete": _admin("revoke virtual keys", "post", keys_body),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "dejacache proxy", "version": "1"},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


_DOCUMENT: bytes | None = None


async def openapi(request: Request) -> Response:
    global _DOCUMENT
    if _DOCUMENT is None:
        _DOCUMENT = orjson.dumps(document())
    return Response(_DOCUMENT, media_type="application/json")
