"""A store on a server or a file is read off the event loop: one slow store call stalls only
its own request, never the proxy's other requests."""

from __future__ import annotations

import threading
import time
import uuid

import dejacache
import httpx
import pytest
from dejacache.stores import SQLiteStore

from .proxy_helpers import model_list


class SlowStore(SQLiteStore):
    """A SQLite store whose lookups of the 'slow' request wait until released."""

    release = threading.Event()

    def lookup(self, schema, request, namespace, now, max_age=None):  # type: ignore[override]
        if "slow" in str(request):
            self.release.wait(10)
        return super().lookup(schema, request, namespace, now, max_age)


def test_in_process_says_whether_reads_may_run_inline(tmp_path):
    assert dejacache.Cache().in_process is True
    assert dejacache.Cache(store=f"sqlite:///{tmp_path / 'c.db'}").in_process is False
    semantic = dejacache.Semantic(embedder=dejacache.HashingEmbedder(dim=64))
    assert dejacache.Cache(semantic=semantic).in_process is False
    assert dejacache.Cache(next_cache=dejacache.Cache()).in_process is False


def test_a_stalled_store_read_blocks_only_its_own_request(make_proxy, upstream, tmp_path):
    cache = dejacache.Cache(store=SlowStore(tmp_path / "slow.db"))
    proxy = make_proxy({"model_list": model_list(upstream.url)}, cache=cache)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"slow {uuid.uuid4()}"}]}
    stalled: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: stalled.append(httpx.post(f"{proxy.url}/v1/chat/completions", json=body, timeout=30))
    )
    thread.start()
    try:
        time.sleep(0.3)  # the slow request is now waiting in the store
        start = time.monotonic()
        health = httpx.get(f"{proxy.url}/health", timeout=5)
        fast = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"fast {uuid.uuid4()}"}]}
        other = httpx.post(f"{proxy.url}/v1/chat/completions", json=fast, timeout=5)
        elapsed = time.monotonic() - start
        assert health.status_code == 200 and other.status_code == 200
        assert elapsed < 3, f"other requests waited {elapsed:.2f}s behind a stalled store read"
        assert not stalled, "the slow request should still be waiting in its store"
    finally:
        SlowStore.release.set()
        thread.join(15)
    assert stalled and stalled[0].status_code == 200


@pytest.fixture(autouse=True)
def _reset_release():
    SlowStore.release.clear()
    yield
    SlowStore.release.set()
