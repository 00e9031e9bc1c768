"""A store on a server or a file is read off the event loop: one slow store call (a chat or
embeddings lookup, a virtual key's record) stalls only its own request, never the proxy's other
requests."""

from __future__ import annotations

import threading
import time
import uuid

import dejacache
import httpx
import pytest
from dejacache.proxy._keys import KEYS_NAMESPACE
from dejacache.stores import SQLiteStore

from .proxy_helpers import model_list


class SlowStore(SQLiteStore):
    """A SQLite store whose lookups of requests mentioning ``marker`` wait until released."""

    release = threading.Event()
    marker = "slow"

    def lookup(self, schema, request, namespace, now, max_age=None):  # type: ignore[override]
        if self.marker in str(request):
            self.release.wait(10)
        return super().lookup(schema, request, namespace, now, max_age)


def test_in_process_says_whether_reads_may_run_inline(tmp_path):
    assert dejacache.Cache().in_process is True
    assert dejacache.Cache(store=f"sqlite:///{tmp_path / 'c.db'}").in_process is False
    semantic = dejacache.Semantic(embedder=dejacache.HashingEmbedder(dim=64))
    assert dejacache.Cache(semantic=semantic).in_process is False
    assert dejacache.Cache(next_cache=dejacache.Cache()).in_process is False


def _others_answer_while(proxy, stalled_call, other_call) -> None:
    """Starts ``stalled_call`` (it waits in the store), checks that /health and ``other_call``
    answer meanwhile, then releases the store and checks that the stalled call answers too."""
    stalled: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: stalled.append(stalled_call()))
    thread.start()
    try:
        time.sleep(0.3)  # the slow request is now waiting in the store
        start = time.monotonic()
        health = httpx.get(f"{proxy.url}/health", timeout=5)
        other = other_call()
        elapsed = time.monotonic() - start
        assert health.status_code == 200 and other.status_code == 200, other.text
        assert elapsed < 3, f"other requests waited {elapsed:.2f}s behind a stalled store read"
        assert not stalled, "the slow request should still be waiting in its store"
    finally:
        SlowStore.release.set()
        thread.join(15)
    assert stalled and stalled[0].status_code == 200, stalled and stalled[0].text


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/embeddings"])
def test_a_stalled_store_read_blocks_only_its_own_request(make_proxy, upstream, tmp_path, route):
    cache = dejacache.Cache(store=SlowStore(tmp_path / "slow.db"))
    proxy = make_proxy({"model_list": model_list(upstream.url)}, cache=cache)

    def call(text: str) -> httpx.Response:
        if route == "/v1/embeddings":
            body: dict = {"model": "text-embedding-3-small", "input": [text, f"and {text}"]}
        else:
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
        return httpx.post(proxy.url + route, json=body, timeout=30)

    _others_answer_while(proxy, lambda: call(f"slow {uuid.uuid4()}"), lambda: call(f"fast {uuid.uuid4()}"))


def test_a_stalled_virtual_key_lookup_blocks_only_its_own_request(make_proxy, upstream, tmp_path):
    master = {"authorization": "Bearer sk-store-io-master"}
    config = {"model_list": model_list(upstream.url), "general_settings": {"master_key": "sk-store-io-master"}}
    proxy = make_proxy(config, cache=dejacache.Cache(store=f"sqlite:///{tmp_path / 'entries.db'}"))
    keys = proxy.gateway.keys
    SlowStore.marker = "sha256"  # the keys' records; their index is read at once
    keys.cache = dejacache.Cache(max_entries=None, namespace=KEYS_NAMESPACE, store=SlowStore(tmp_path / "keys.db"))
    key = httpx.post(f"{proxy.url}/key/generate", json={"namespace": "team"}, headers=master, timeout=5).json()["key"]

    def call(token: str) -> httpx.Response:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"who asks {uuid.uuid4()}"}]}
        return httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers={"authorization": token}, timeout=30)

    _others_answer_while(proxy, lambda: call(f"Bearer {key}"), lambda: call(master["authorization"]))


@pytest.fixture(autouse=True)
def _reset_release():
    SlowStore.release.clear()
    yield
    SlowStore.release.set()
    SlowStore.marker = "slow"
