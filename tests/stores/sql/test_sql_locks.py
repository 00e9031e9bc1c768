"""Single-flight locks of ``SQLStore`` (``stores/_sql_locks.py``) on real PostgreSQL 15 and
MariaDB servers and on DuckDB: the lock's semantics, one provider call from 4 processes racing
the same miss through ``Cache(store=URL)``, and ``Cache.shared_flights`` behind the guard."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import dejacache
import pytest

pytest.importorskip("sqlalchemy", reason="SQLStore needs the sql extra: pip install 'dejacache[sql]'")

CHILD = os.path.join(os.path.dirname(__file__), "_flight_child.py")
ENV = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(dejacache.__file__))}
KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["postgresql", "mariadb", "duckdb"])
def store(request, sql_store_maker, tmp_path):
    if request.param == "duckdb":
        pytest.importorskip("duckdb_engine", reason="DuckDB needs the duckdb extra: pip install 'dejacache[duckdb]'")
        return sql_store_maker(f"duckdb:///{tmp_path}/locks.duckdb")
    server = request.getfixturevalue("postgres_server" if request.param == "postgresql" else "mariadb_server")
    return sql_store_maker(server.url)


def test_lead_wait_end_expire_and_tokens(store):
    token = store.try_lead("ns", KEY, 5.0)
    assert token
    assert store.try_lead("ns", KEY, 5.0) is None  # held
    assert store.try_lead("other", KEY, 5.0)  # namespaces never share a lock
    assert not store.end_lead("ns", KEY, "not-the-token")
    assert not store.extend_lead("ns", KEY, "not-the-token", 5.0)
    assert store.try_lead("ns", KEY, 5.0) is None  # a wrong token neither freed nor moved it
    assert store.extend_lead("ns", KEY, token, 5.0)
    assert store.end_lead("ns", KEY, token)
    assert not store.end_lead("ns", KEY, token)  # once
    again = store.try_lead("ns", KEY, 0.2)
    assert again and again != token
    assert store.try_lead("ns", KEY, 5.0) is None
    time.sleep(0.3)  # expired: a dead leader's lock frees itself
    late = store.try_lead("ns", KEY, 5.0)
    assert late
    assert not store.extend_lead("ns", KEY, again, 5.0)  # the expired leader cannot keep it
    assert not store.end_lead("ns", KEY, again)  # nor free the new leader's
    assert store.end_lead("ns", KEY, late)


def test_wait_for_gets_the_entry_or_none_when_the_lock_goes(store):
    now = time.time()
    assert store.wait_for("ns", KEY, now, 5.0) is None  # no lock, no entry: at once
    token = store.try_lead("ns", KEY, 5.0)

    def lead() -> None:
        time.sleep(0.2)
        store.put(KEY, "ns", b'{"a":1}', time.time())
        store.end_lead("ns", KEY, token)

    leader = threading.Thread(target=lead)
    started = time.monotonic()
    leader.start()
    found = store.wait_for("ns", KEY, now, 5.0)
    leader.join()
    assert found is not None and found[0] == b'{"a":1}'
    assert 0.15 < time.monotonic() - started < 2.0

    other = "f" * 32
    token = store.try_lead("ns", other, 5.0)
    threading.Timer(0.2, store.end_lead, ("ns", other, token)).start()
    started = time.monotonic()
    assert store.wait_for("ns", other, now, 5.0) is None  # released without an entry
    assert time.monotonic() - started < 2.0
    assert store.try_lead("ns", other, 5.0)  # the next caller leads
    started = time.monotonic()
    assert store.wait_for("ns", other, now, 0.3) is None  # a leader that keeps it: the timeout
    assert 0.25 < time.monotonic() - started < 2.0


def test_racing_threads_one_leader(store):
    """8 threads (8 pooled connections) try to lead one key at once: exactly one token."""
    barrier = threading.Barrier(8)
    tokens: list[str | None] = []
    errors: list[BaseException] = []

    def race() -> None:
        barrier.wait()
        try:
            tokens.append(store.try_lead("race", KEY, 5.0))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len([t for t in tokens if t]) == 1, tokens


def test_cache_on_a_guarded_sql_store_uses_shared_flights(store):
    from dejacache._shared_flight import lock_capable
    from dejacache.stores import GuardedStore

    guarded = GuardedStore(store)
    assert lock_capable(guarded)
    cache = dejacache.Cache(store=guarded)
    assert cache.shared_flights is not None
    calls = []
    req = {"model": "m", "prompt": uuid.uuid4().hex}
    assert cache.call(req, lambda r: calls.append(1) or {"a": 1}) == {"a": 1}
    assert cache.call(req, lambda r: calls.append(1) or {"a": 2}) == {"a": 1, "cache": True}
    assert calls == [1]


def spawn(url: str, start_at: float, prompt: str, calls: str, name: str, *more: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, CHILD, url, str(start_at), prompt, calls, name, *more],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answer(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    return [json.loads(line) for line in out.splitlines() if json.loads(line)["event"] == "answer"][0]


@pytest.mark.parametrize("server_fixture", ["postgres_server", "mariadb_server"])
def test_four_processes_one_provider_call(request, server_fixture, tmp_path):
    server = request.getfixturevalue(server_fixture)
    calls = tmp_path / "calls"
    prompt = f"one provider call, please {uuid.uuid4().hex}"
    start_at = time.time() + 2.5  # every child has imported and opened its cache by then
    procs = [spawn(server.url, start_at, prompt, str(calls), f"p{i}") for i in range(4)]
    answers = [answer(p) for p in procs]
    called = calls.read_text().split()
    assert len(called) == 1, called
    leader = called[0]
    for a in answers:
        if a["name"] == leader:
            assert a["got"] == {"answer": leader}
        else:  # a waiter: the leader's answer, from the store
            assert a["got"] == {"answer": leader, "cache": True}, a


def test_a_killed_leader_hands_over_after_its_lock_expires(postgres_server, tmp_path):
    lease = 0.6
    calls, prompt = str(tmp_path / "calls"), f"kill the leader {uuid.uuid4().hex}"
    leader = spawn(postgres_server.url, 0.0, prompt, calls, "leader", str(lease), "hang")
    assert leader.stdout is not None
    assert json.loads(leader.stdout.readline())["event"] == "provider"
    waiter = spawn(postgres_server.url, 0.0, prompt, calls, "waiter", str(lease))
    time.sleep(2.5 * lease + 1.0)  # past the lease: the leader's lock lives on only if extended
    assert waiter.poll() is None, "the waiter did not wait for a live leader"
    killed = time.monotonic()
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)
    got = answer(waiter)
    assert got["got"] == {"answer": "waiter"}
    assert time.monotonic() - killed < lease + 1.5
    assert open(calls).read().split() == ["leader", "waiter"]


def test_acall_of_two_caches_on_one_database_makes_one_provider_call(sql_store_maker, postgres_server):
    """Two caches (two workers' stores) on one table, racing ``acall``: one provider call; the
    waiter's wait runs off the event loop."""
    table = f"t_{uuid.uuid4().hex[:12]}"
    caches = [dejacache.Cache(store=sql_store_maker(postgres_server.url, table=table)) for _ in range(2)]
    calls = []

    async def provider(request: dict) -> dict:
        calls.append(1)
        await asyncio.sleep(0.3)
        return {"a": len(calls)}

    async def race() -> list:
        req = {"model": "m", "prompt": uuid.uuid4().hex}
        return await asyncio.gather(*(c.acall(req, provider) for c in caches))

    got = asyncio.run(race())
    assert calls == [1]
    assert sorted(map(str, got)) == sorted(map(str, [{"a": 1}, {"a": 1, "cache": True}]))
