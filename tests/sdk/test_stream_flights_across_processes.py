"""Single-flight across processes for streamed misses (issue 10): processes sharing one store
(a SQLite file, a real redis-server) that make the same streamed call at once make one provider
call; the leader streams live, every other process replays the leader's stored answer. A leader
that is killed, or stops reading, lets its lock go and a waiter streams from the provider."""

from __future__ import annotations

import multiprocessing
import time

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")

import dejacache  # noqa: E402

CHAT, MESSAGES = "/v1/chat/completions", "/v1/messages"
pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def forks():
    """Children forked from this process, which has imported dejacache and both SDKs: each is a
    real process of its own and starts in milliseconds instead of the seconds a fresh interpreter
    takes to import the SDKs (the children touch nothing of this process's threads)."""
    return multiprocessing.get_context("fork")


from ._stream_flight_child import QUESTION, main, text_of  # noqa: E402  (imports both SDKs before any fork)


class Child:
    """One worker process and the pipe its events come through."""

    def __init__(self, forks, store: str, provider, name: str, mode: str, sdk: str, **cfg):
        cfg = {"store": store, "provider": provider.url, "name": name, "mode": mode, "sdk": sdk, "lease_s": 5.0, **cfg}
        cfg.setdefault("start_at", 0.0)
        self.events, theirs = forks.Pipe(duplex=False)
        self.proc = forks.Process(target=main, args=(cfg, theirs), daemon=True)
        self.proc.start()
        theirs.close()

    def next(self, timeout: float = 60) -> dict:
        assert self.events.poll(timeout), "the child sent nothing"
        event = self.events.recv()
        assert event["event"] != "error", event["error"]
        return event

    def until(self, kind: str, timeout: float = 60) -> dict:
        """The next event of this kind (``calling`` comes before every other)."""
        event = self.next(timeout)
        if event["event"] == "calling" and kind != "calling":
            event = self.next(timeout)
        assert event["event"] == kind, event
        return event

    def answer(self, timeout: float = 60) -> dict:
        event = self.until("answer", timeout)
        self.proc.join(10)
        return event

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(10)


def spawn(forks, store: str, provider, name: str, mode: str = "sync", sdk: str = "openai", **cfg) -> Child:
    return Child(forks, store, provider, name, mode, sdk, **cfg)


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    """A store URL every child opens: a SQLite file, or a real redis-server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/shared.db"
        return
    pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")
    from stores.redis.servers import REDIS_SERVER, RedisServer, need

    need(REDIS_SERVER, "redis-server")
    server = RedisServer(tmp_path / "redis")
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


def race(forks, store: str, provider, n: int, mode: str, sdk: str, copies: int = 1, **cfg) -> list[dict]:
    start_at = time.time() + 0.5  # every child has opened its cache by then (a late one still joins)
    children = [
        spawn(forks, store, provider, f"p{i}", mode, sdk, start_at=start_at, copies=copies, **cfg) for i in range(n)
    ]
    answers = []
    for c in children:
        answers += [c.until("answer") for _ in range(copies)]
        c.proc.join(10)
    return answers


def check_one_call_full_streams(answers: list[dict], provider, path: str) -> None:
    assert provider.counts[path] == 1, provider.counts
    live = [a for a in answers if not a["cache"]]
    assert len(live) == 1, answers  # one leader streamed live; every other process replayed
    expected = f"answer #1 to {QUESTION}"
    assert all(a["text"] == expected for a in answers), answers


@pytest.mark.parametrize(
    ("store", "mode", "sdk", "n"),
    [
        ("sqlite", "sync", "openai", 4),
        ("redis", "sync", "anthropic", 3),
        ("sqlite", "async", "anthropic", 3),
    ],
    indirect=["store"],
)
def test_identical_streamed_misses_in_several_processes_make_one_provider_call(forks, store, provider, mode, sdk, n):
    provider.event_delay = 0.1  # ~1.3 s of streaming: every process arrives while it runs
    answers = race(forks, store, provider, n, mode, sdk)
    check_one_call_full_streams(answers, provider, CHAT if sdk == "openai" else MESSAGES)


@pytest.mark.parametrize(
    ("store", "mode", "l1"), [("sqlite", "sync", False), ("redis", "async", True)], indirect=["store"]
)
def test_followers_in_a_waiting_process_wait_with_it_past_their_stall_time(forks, store, provider, mode, l1):
    """Two identical calls in each of three processes: in each process one waits for the other
    (in-process flight), which waits for the leader in another process. The stream lasts longer
    than the stall time; the in-process follower keeps waiting because its leader reports that it
    is still waiting across processes, so there is still one provider call. ``l1``: each process
    has a memory level in front of the shared store (the lock lives in the lower level)."""
    provider.event_delay = 0.25  # ~3.3 s of streaming, stall time 1.5 s
    answers = race(forks, store, provider, 3, mode, "openai", copies=2, stall_s=1.5, l1=l1)
    assert len(answers) == 6
    check_one_call_full_streams(answers, provider, CHAT)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_leader_killed_mid_stream_hands_over_after_its_lock_expires(forks, store, provider):
    lease = 0.6
    leader = spawn(forks, store, provider, "leader", "hang", lease_s=lease)
    first = leader.until("first")
    assert first == {"event": "first", "name": "leader", "cache": False}  # it streams live, mid-stream now
    waiter = spawn(forks, store, provider, "waiter", lease_s=lease)
    waiter.until("calling")
    time.sleep(2.5 * lease + 0.5)  # past the lease: the lock lives on only because the leader extends it
    assert waiter.proc.is_alive() and not waiter.events.poll(), "the waiter did not wait for a live leader"
    assert provider.counts[CHAT] == 1
    killed = time.monotonic()
    leader.kill()  # SIGKILL
    got = waiter.answer()
    took_over = time.monotonic() - killed
    assert provider.counts[CHAT] == 2  # the waiter streamed from the provider itself
    assert got["cache"] is False and got["text"] == f"answer #2 to {QUESTION}"
    assert took_over < lease + 4, took_over


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_leader_that_stops_reading_lets_a_waiter_stream_after_the_stall_time(forks, store, provider):
    """The leader's process is alive but its caller stopped reading: its lock is no longer
    extended after ``stall_s`` and expires, and the waiter makes its own call."""
    lease, stall = 0.6, 1.0
    leader = spawn(forks, store, provider, "leader", "hang", lease_s=lease, stall_s=stall)
    try:
        leader.until("first")
        started = time.monotonic()
        waiter = spawn(forks, store, provider, "waiter", lease_s=lease, stall_s=stall)
        waiter.until("calling")
        got = waiter.answer()
        assert time.monotonic() - started < stall + lease + 4
        assert provider.counts[CHAT] == 2
        assert got["cache"] is False and got["text"] == f"answer #2 to {QUESTION}"
        assert leader.proc.is_alive()  # it was alive all along
    finally:
        leader.kill()


def test_a_store_that_fails_its_locks_never_fails_a_stream(provider, tmp_path):
    """Lock operations raising (an unguarded store object): streamed calls still answer."""
    openai = pytest.importorskip("openai")
    from store_doubles import LockFaultSQLite

    cache = dejacache.Cache(store=LockFaultSQLite(str(tmp_path / "b.db")))
    client = dejacache.wrap(openai.OpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache)
    kw = {"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}], "stream": True}
    first = client.chat.completions.create(**kw)
    text = "".join(text_of(c) for c in first)
    assert first.cache is False and text == "answer #1 to q"
    again = client.chat.completions.create(**kw)  # the answer was stored: a replay
    assert again.cache is True and "".join(text_of(c) for c in again) == text
    assert provider.counts[CHAT] == 1
