"""Single-flight across processes on a shared store (a real redis-server, and one SQLite file):
concurrent identical misses in different processes make one provider call, waiters get the
leader's answer, and a leader killed with SIGKILL hands over by lock expiry."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import dejacache
import pytest

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

CHILD = os.path.join(os.path.dirname(__file__), "_flight_child.py")
ENV = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(dejacache.__file__))}


def spawn(url: str, start_at: float, lease_s: float, mode: str, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, CHILD, url, str(start_at), str(lease_s), mode, name],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def events(proc: subprocess.Popen, timeout: float = 60) -> list[dict]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(params=["redis", "sqlite"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db"
    server = request.getfixturevalue("standalone")
    server.cli("flushall")
    return f"redis://127.0.0.1:{server.port}/0"


@pytest.mark.parametrize(
    ("url", "mode"), [("redis", "sync"), ("redis", "async"), ("redis", "l1"), ("sqlite", "sync")], indirect=["url"]
)
def test_concurrent_misses_in_four_processes_make_one_provider_call(url, mode):
    start_at = time.time() + 2.0  # every child has imported and opened its cache by then
    procs = [spawn(url, start_at, 5.0, mode, f"p{i}") for i in range(4)]
    results = [events(p) for p in procs]
    called = [e["name"] for r in results for e in r if e["event"] == "provider"]
    answers = [next(e for e in r if e["event"] == "answer") for r in results]
    assert len(called) == 1, called
    leader = called[0]
    for a in answers:
        if a["name"] == leader:
            assert a["got"] == {"answer": leader}
        else:  # a waiter: the leader's answer, marked as served from the cache
            assert a["got"] == {"answer": leader, "cache": True}, a
    if mode == "l1":  # waiters copied the answer into their own L1
        assert all(next(e for e in r if e["event"] == "l1")["entries"] == 1 for r in results)


def test_a_killed_leader_hands_over_after_its_lock_expires(url):
    lease = 0.6
    leader = spawn(url, 0.0, lease, "hang", "leader")
    assert leader.stdout is not None
    assert json.loads(leader.stdout.readline())["event"] == "provider"
    waiter = spawn(url, 0.0, lease, "sync", "waiter")
    time.sleep(2.5 * lease + 0.8)  # past the lease: the leader's lock lives on only if extended
    assert waiter.poll() is None, "the waiter did not wait for a live leader"
    killed = time.monotonic()
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)
    result = events(waiter)
    took_over = time.monotonic() - killed
    assert [e["event"] for e in result] == ["provider", "answer"]
    assert result[1]["got"] == {"answer": "waiter"}
    assert took_over < lease + 1.5, took_over


def test_store_faults_never_fail_the_call(tmp_path):
    """A lock store that raises on every call: the provider answers, once per call."""
    from store_doubles import LockFaultSQLite

    cache = dejacache.Cache(store=LockFaultSQLite(str(tmp_path / "b.db")))
    calls = []
    req = {"model": "m", "prompt": "x"}
    assert cache.call(req, lambda r: calls.append(1) or {"a": 1}) == {"a": 1}
    assert cache.call(req, lambda r: calls.append(1) or {"a": 2}) == {"a": 1, "cache": True}
    assert calls == [1]
