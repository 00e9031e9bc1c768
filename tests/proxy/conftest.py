"""Fixtures of the proxy tests: the fake provider and real uvicorn proxies in front of it."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
pytest.importorskip("openai")

import fake_provider  # noqa: E402
from dejacache.proxy import create_app  # noqa: E402

from .proxy_helpers import Proxy, model_list  # noqa: E402


@pytest.fixture(scope="module")
def upstream():
    server = fake_provider.start()
    yield server
    server.gate.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def make_proxy(upstream):
    """``make_proxy(config_dict_or_None, cache=None)`` -> a running Proxy (stopped at module end)."""
    started: list[Proxy] = []

    def make(config: Any = None, cache: Any = None) -> Proxy:
        if config is None:
            config = {"model_list": model_list(upstream.url)}
        proxy = Proxy(create_app(config, cache=cache))
        started.append(proxy)
        return proxy

    yield make
    for p in started:
        p.stop()


@pytest.fixture(scope="module")
def proxy(make_proxy):
    """The default test proxy: every model to the fake, in-memory cache, no master key."""
    return make_proxy()
