"""What one proxied request is: its route kind (``Kind``, ``KINDS``) and its ``Call`` (body,
key document, cache controls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._sdk.cache_control import strip_cache_control
from ._config import ModelRoute
from ._upstream import ANTHROPIC_VERSION

ENDPOINT_FIELD = "dejacache.endpoint"  # the SDK wrappers' key fields (_sdk/base.py)
PROVIDER_FIELD = "dejacache.provider"


@dataclass(frozen=True)
class Kind:
    """One JSON route: where it goes upstream and how its streams look."""

    name: str  # chat, completions, responses, messages
    path: str  # upstream path under the route's base URL
    provider: str
    endpoint: str  # names the method in keys, as the SDK wrappers do
    named_events: bool  # SSE "event:" lines (Anthropic, Responses API)
    done_marker: bool  # a final "data: [DONE]"
    usage_option: bool  # stream_options.include_usage exists

    def sdk_endpoint(self) -> Any:
        """The SDK wrappers' Endpoint: its assembler and its replay."""
        if self.provider == "anthropic":
            from .._sdk.anthropic.messages import MESSAGES

            return MESSAGES
        from .._sdk.openai.endpoints import CHAT, COMPLETIONS, RESPONSES

        return {"chat": CHAT, "completions": COMPLETIONS, "responses": RESPONSES}[self.name]


KINDS = {
    "chat": Kind("chat", "/chat/completions", "openai", "openai.chat.completions", False, True, True),
    "completions": Kind("completions", "/completions", "openai", "openai.completions", False, True, True),
    "responses": Kind("responses", "/responses", "openai", "openai.responses", True, False, False),
    "messages": Kind("messages", "/messages", "anthropic", "anthropic.messages", True, False, False),
}


class Call:
    """What one request asks: its route, body, key document and cache controls."""

    __slots__ = ("kind", "route", "body", "upstream_body", "key_doc", "caching", "controls", "namespace", "ctl", "key")

    def __init__(
        self,
        kind: Kind,
        route: ModelRoute,
        body: dict,
        caching: Any,
        controls: Any,
        namespace: Any,
        headers: Any = None,
    ):
        self.kind, self.route, self.body = kind, route, body
        sent = {**body, "model": route.upstream_model(body["model"])}
        if kind.provider == "openai" and route.rejects_markers:
            sent = strip_cache_control(sent, route.api_base)
        self.upstream_body = sent
        self.key_doc = {ENDPOINT_FIELD: kind.endpoint, PROVIDER_FIELD: route.identity, **sent}
        answer_headers = _answer_headers(headers)
        if answer_headers:  # as the SDK wrappers key extra_headers that change an answer
            self.key_doc["extra_headers"] = answer_headers
        self.caching, self.controls, self.namespace = caching, controls, namespace
        self.ctl: Any = None
        self.key: str | None = None

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True


def _answer_headers(headers: Any) -> dict[str, str]:
    """The forwarded headers that change an answer: betas always, and ``anthropic-version`` when it
    is not the version every SDK sends (so the proxy and a wrapped SDK still share entries)."""
    if headers is None:
        return {}
    out = {}
    for name in ("anthropic-beta", "openai-beta"):
        value = headers.get(name)
        if value is not None:
            out[name] = value
    version = headers.get("anthropic-version")
    if version is not None and version != ANTHROPIC_VERSION:
        out["anthropic-version"] = version
    return out
