"""Error answers in the caller's format: OpenAI's ``{"error": {...}}`` or Anthropic's."""

from __future__ import annotations

import orjson
from starlette.responses import Response

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    502: "api_error",
    504: "api_error",
}


class ProxyError(Exception):
    """An error the proxy answers itself (bad JSON, unknown model, auth, size, upstream down)."""

    def __init__(self, status: int, message: str, kind: str, *, param: str | None = None, provider: str = "openai"):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.provider = status, message, kind, param, provider

    def body(self) -> bytes:
        if self.provider == "anthropic":
            kind = _ANTHROPIC_TYPES.get(self.status, "api_error")
            return orjson.dumps({"type": "error", "error": {"type": kind, "message": self.message}})
        return orjson.dumps(
            {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": str(self.status)}}
        )

    def response(self) -> Response:
        return Response(self.body(), status_code=self.status, media_type="application/json")
