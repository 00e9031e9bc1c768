"""Helpers of the proxy tests: a real uvicorn server on 127.0.0.1 in a thread, SDK clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/: fake_provider


def model_list(url: str, **params: Any) -> list[dict]:
    """Every OpenAI model name to the fake's /v1, Claude names to its Anthropic route, and
    an alias (``mini`` -> gpt-4o-mini); ``error-*`` reaches the fake's errors on both."""
    return [
        {"model_name": "mini", "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": url + "/v1", **params}},
        {"model_name": "claude-*", "litellm_params": {"model": "anthropic/*", "api_base": url, **params}},
        {"model_name": "error-*", "litellm_params": {"model": "anthropic/*", "api_base": url, **params}},
        {"model_name": "*", "litellm_params": {"model": "openai/*", "api_base": url + "/v1", **params}},
    ]


class Proxy:
    def __init__(self, app: Any):
        import uvicorn

        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the proxy did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def gateway(self) -> Any:
        return self.app.state.gateway

    @property
    def cache(self) -> Any:
        return self.gateway.cache

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def oai(proxy: Proxy, key: str = "sk-client", **kw: Any) -> Any:
    import openai

    return openai.OpenAI(api_key=key, base_url=proxy.url + "/v1", max_retries=0, **kw)


def aoai(proxy: Proxy, key: str = "sk-client", **kw: Any) -> Any:
    import openai

    return openai.AsyncOpenAI(api_key=key, base_url=proxy.url + "/v1", max_retries=0, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Waits until a proxy started as a process answers ``/health``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "the proxy did not start"
        time.sleep(0.1)


def client_of_worker(url: str, avoid: int | None, timeout: float = 30, tries: int = 60) -> tuple[httpx.Client, int]:
    """A keep-alive client whose connection landed on a worker other than ``avoid``."""
    for _ in range(tries):
        client = httpx.Client(base_url=url, timeout=timeout)
        pid = client.get("/health").json()["pid"]
        if pid != avoid:
            return client, pid
        client.close()
    raise AssertionError("every connection reached the same worker")


def metric_value(text: str, sample: str, **labels: str) -> float | None:
    """The value of the ``sample`` (e.g. ``dejacache_proxy_requests_total``) whose labels include
    ``labels``, in a Prometheus exposition (summed if several match); None if none does."""
    from prometheus_client.parser import text_string_to_metric_families

    found = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(found) if found else None
