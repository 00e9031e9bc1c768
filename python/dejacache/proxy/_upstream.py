"""Calls to the providers behind the proxy, over one pooled ``httpx.AsyncClient`` per worker.

What is sent: the client's body (its model replaced by the route's upstream model, dejacache's
``cache`` field removed), the route's API key (or, when the route has none and the proxy checks
no keys itself, the client's own), and only the headers that change an answer (``anthropic-version``, ``anthropic-beta``,
``openai-beta``). Keys never appear in what this module logs or raises.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx

from ._config import ModelRoute

#: Client headers forwarded upstream, besides credentials.
FORWARDED = ("anthropic-version", "anthropic-beta", "openai-beta", "openai-organization", "openai-project")
ANTHROPIC_VERSION = "2023-06-01"


class UpstreamError(Exception):
    """The provider could not be reached or did not answer in time (status: 502 or 504)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Upstream:
    """``forward_client_key``: send the client's own key when a route has none (only when the
    proxy checks no keys itself: a master or virtual key must never reach a provider)."""

    def __init__(self, timeout: float, forward_client_key: bool = True):
        self.timeout = timeout
        self.forward_client_key = forward_client_key
        limits = httpx.Limits(max_connections=1024, max_keepalive_connections=256)
        # No Nagle delay: a request's headers and body leave in two writes, and a provider that
        # reads them separately would otherwise wait for a delayed ACK (~40 ms on Linux).
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay),
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    @staticmethod
    def url(route: ModelRoute, path: str) -> str:
        """``path`` ("/chat/completions", "/messages") under the route's base URL: OpenAI bases
        end in /v1 already, Anthropic's do not."""
        base = route.api_base
        if route.provider == "anthropic" and not base.endswith("/v1"):
            base += "/v1"
        return base + path

    def headers(self, route: ModelRoute, incoming: Any) -> dict[str, str]:
        out = {"content-type": "application/json"}
        for name in FORWARDED:
            value = incoming.get(name)
            if value is not None:
                out[name] = value
        key = route.api_key
        if route.provider == "anthropic":
            out.setdefault("anthropic-version", ANTHROPIC_VERSION)
            if key is None and self.forward_client_key:
                key = incoming.get("x-api-key") or _bearer(incoming.get("authorization"))
            if key:
                out["x-api-key"] = key
        else:
            if key is None and self.forward_client_key:
                key = _bearer(incoming.get("authorization"))
            if key:
                out["authorization"] = f"Bearer {key}"
        return out

    def _request(self, route: ModelRoute, path: str, body: bytes, incoming: Any) -> httpx.Request:
        ext = None
        if route.timeout is not None:
            t = route.timeout
            ext = {"timeout": {"connect": min(t, 10.0), "read": t, "write": t, "pool": t}}
        return self.client.build_request(
            "POST", self.url(route, path), content=body, headers=self.headers(route, incoming), extensions=ext
        )

    async def send(
        self, route: ModelRoute, path: str, body: bytes, incoming: Any, stream: bool = False, model: Any = None
    ) -> Any:
        """The provider's response (read in full unless ``stream``); UpstreamError when it
        cannot be reached or times out (naming ``model``, the name the client asked for)."""
        request = self._request(route, path, body, incoming)
        name = model if isinstance(model, str) else route.name
        try:
            return await self.client.send(request, stream=stream)
        except httpx.TimeoutException:
            raise UpstreamError(504, f"the upstream provider for model {name!r} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                502, f"the upstream provider for model {name!r} could not be reached ({type(exc).__name__})"
            ) from None


def _bearer(value: Any) -> str | None:
    if isinstance(value, str) and value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None
