"""Identical streamed misses through the proxy make one upstream call: in one worker every request
streams that one upstream stream live, from its first event on (``_streamed``); in other
workers sharing the store they replay its stored answer. A joined stream goes on when the
client that started it leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest

from .proxy_helpers import client_of_worker, free_port, model_list, wait_healthy

CHAT, MESSAGES = "/v1/chat/completions", "/v1/messages"
pytestmark = pytest.mark.timeout(120)


def routes(url: str) -> list[dict]:
    """The default routes, plus an Anthropic one whose upstream model streams slowly."""
    slow_claude = {"model_name": "claude-slow", "litellm_params": {"model": "anthropic/stream-slow", "api_base": url}}
    return [slow_claude, *model_list(url)]


def chat(text: str) -> dict:
    return {"model": "stream-slow", "messages": [{"role": "user", "content": text}], "stream": True}


def messages(text: str) -> dict:
    return {**chat(text), "model": "claude-slow", "max_tokens": 100}


def text_of(event: dict) -> str:
    if "choices" in event:
        return "".join((c.get("delta") or {}).get("content") or "" for c in event["choices"])
    if event.get("type") == "content_block_delta":
        return event["delta"].get("text", "")
    return ""


def stream(client: httpx.Client, path: str, body: dict, out: list) -> None:
    """Streams one request; appends (x-dejacache, the text of every event) to ``out``."""
    with client.stream("POST", path, json=body, headers={"x-api-key": "k"}) as resp:
        assert resp.status_code == 200, resp.read()
        text = ""
        for line in resp.iter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                text += text_of(json.loads(line[5:]))
        out.append((resp.headers["x-dejacache"], text))


def race(clients: list[httpx.Client], path: str, body: dict) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    threads = [threading.Thread(target=stream, args=(c, path, body, out)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(out) == len(clients), out
    return out


@pytest.fixture
def slow_events(upstream):
    upstream.event_delay = 0.08  # about a second per stream: every request arrives while it runs
    yield
    upstream.event_delay = 0.05


@pytest.fixture(scope="module")
def shared(make_proxy, upstream, tmp_path_factory):
    """A proxy whose cache is a SQLite file (a store that keeps flight locks)."""
    db = tmp_path_factory.mktemp("flights") / "shared.db"
    return make_proxy({"model_list": routes(upstream.url), "cache": {"store": f"sqlite:///{db}"}})


@pytest.fixture(scope="module")
def memory(make_proxy, upstream):
    """A proxy on the default in-process cache (no shared store: flights within the worker)."""
    return make_proxy({"model_list": routes(upstream.url)})


@pytest.mark.parametrize(
    ("proxy_name", "path", "make_body"),
    [("shared", CHAT, chat), ("shared", MESSAGES, messages), ("memory", CHAT, chat)],
)
def test_identical_streams_at_once_make_one_upstream_call(request, upstream, slow_events, proxy_name, path, make_body):
    proxy = request.getfixturevalue(proxy_name)
    body = make_body(f"one stream {uuid.uuid4().hex[:8]}")
    before = upstream.counts[path]
    clients = [httpx.Client(base_url=proxy.url, timeout=30) for _ in range(3)]
    try:
        got = race(clients, path, body)
    finally:
        for c in clients:
            c.close()
    assert upstream.counts[path] - before == 1
    assert [h for h, _ in got] == ["miss", "miss", "miss"]  # one stream, relayed to all three
    assert len({t for _, t in got}) == 1 and got[0][1].endswith(body["messages"][0]["content"])


def follow(client: httpx.Client, body: dict, out: dict) -> None:
    """Streams one request; records its x-dejacache, its text and when its first and last events came."""
    with client.stream("POST", CHAT, json=body) as resp:
        out["header"], out["text"] = resp.headers["x-dejacache"], ""
        for line in resp.iter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                out.setdefault("first", time.monotonic())
                out["text"] += text_of(json.loads(line[5:]))
        out["last"] = time.monotonic()


@pytest.mark.parametrize("proxy_name", ["shared", "memory"])
def test_a_joined_stream_comes_live_and_goes_on_when_its_leader_leaves(request, upstream, slow_events, proxy_name):
    proxy = request.getfixturevalue(proxy_name)
    body = chat(f"joined halfway {uuid.uuid4().hex[:8]}")
    before = upstream.counts[CHAT]
    out: dict = {}
    with (
        httpx.Client(base_url=proxy.url, timeout=30) as leader_client,
        httpx.Client(base_url=proxy.url, timeout=30) as joiner_client,
    ):
        with leader_client.stream("POST", CHAT, json=body) as leader:
            assert leader.headers["x-dejacache"] == "miss"
            lines = leader.iter_lines()  # (kept: a dropped iterator closes the stream)
            next(lines)  # the leader's stream is under way
            joiner = threading.Thread(target=follow, args=(joiner_client, body, out))
            joiner.start()
            deadline = time.monotonic() + 5
            while "first" not in out and time.monotonic() < deadline:
                time.sleep(0.01)
            assert "first" in out and "last" not in out  # the joiner streams while upstream still does
        # the leader's client left mid-stream: the stream goes on for the joiner
        joiner.join(30)
    assert out["header"] == "miss" and out["text"].endswith(body["messages"][0]["content"])
    assert out["last"] - out["first"] > 0.3  # events came one by one, not all at the end
    assert upstream.counts[CHAT] - before == 1
    got: list = []
    with httpx.Client(base_url=proxy.url, timeout=30) as again:
        stream(again, CHAT, body, got)
    assert got == [("exact", out["text"])]  # stored when it ran to its end
    assert upstream.counts[CHAT] - before == 1


def test_two_workers_make_one_upstream_call_for_identical_streams(tmp_path, upstream, slow_events):
    config = tmp_path / "proxy.yaml"
    config.write_text(
        f'model_list:\n  - model_name: "*"\n    litellm_params: {{model: openai/*, api_base: "{upstream.url}/v1"}}\n'
        f"cache:\n  store: sqlite:///{tmp_path}/shared.db\n"
    )
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dejacache.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    clients: list[httpx.Client] = []
    try:
        wait_healthy(url, proc)
        one, pid_one = client_of_worker(url, None, 30)
        two, pid_two = client_of_worker(url, pid_one, 30)
        clients += [one, two]
        body = chat(f"two workers one stream {uuid.uuid4().hex[:8]}")
        before = upstream.counts[CHAT]
        got = race([one, two], CHAT, body)
        assert pid_one != pid_two and upstream.counts[CHAT] - before == 1
        assert sorted(h for h, _ in got) == ["exact", "miss"]
        assert got[0][1] == got[1][1] and got[0][1].endswith(body["messages"][0]["content"])
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(15)


def test_a_stream_every_client_left_stores_nothing(memory, upstream, slow_events):
    body = chat(f"everyone left {uuid.uuid4().hex[:8]}")
    before = upstream.counts[CHAT]
    with (
        httpx.Client(base_url=memory.url, timeout=30) as first_client,
        httpx.Client(base_url=memory.url, timeout=30) as second_client,
    ):
        with (
            first_client.stream("POST", CHAT, json=body) as first,
            second_client.stream("POST", CHAT, json=body) as second,
        ):
            next(first.iter_lines()), next(second.iter_lines())  # both are tails of one stream
            assert first.headers["x-dejacache"] == second.headers["x-dejacache"] == "miss"
        # both clients left mid-stream: the upstream read stops and nothing is stored
    time.sleep(1.5)  # longer than the whole stream would have taken
    got: list = []
    with httpx.Client(base_url=memory.url, timeout=30) as again:
        stream(again, CHAT, body, got)
    assert got[0][0] == "miss" and upstream.counts[CHAT] - before == 2
