"""Fixtures of the SDK wrapper tests: the fake OpenAI/Anthropic provider (a real HTTP server on
127.0.0.1, started per test) and clients of both SDKs pointed at it."""

from __future__ import annotations

from fake_provider import provider_fixture  # noqa: F401  (the ``provider`` fixture)
