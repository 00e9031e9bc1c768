"""Cross-process primitives on a real redis-server: invalidation messages between processes, the
single-flight lock (a killed leader releases it by expiry), and 4 processes sharing one server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

from dejacache.stores._redis import RedisStore  # noqa: E402

from ..store_suite import T0, k  # noqa: E402

PYTHON_PATH = os.pathsep.join(p for p in sys.path if p)


def child(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": PYTHON_PATH}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def url(standalone):
    standalone.cli("flushall")
    return f"redis://127.0.0.1:{standalone.port}/0"


def test_a_delete_in_another_process_reaches_the_callback_within_milliseconds(url):
    store = RedisStore.from_url(url)
    got: list[tuple[object, object, float]] = []
    arrived = threading.Event()

    def callback(namespace, key):
        got.append((namespace, key, time.perf_counter()))
        if len(got) == 3:
            arrived.set()

    handle = store.subscribe_invalidations(callback)
    proc = child(
        """
        import sys, time
        from dejacache.stores._redis import RedisStore
        s = RedisStore.from_url(sys.argv[1])
        s.put("%032x" % 5, "tenant:a", b"v", 1.0)
        t = time.perf_counter(); s.remove("%032x" % 5, "tenant:a"); print(t, flush=True)
        s.clear("tenant:b")
        s.clear()
        """,
        url,
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert arrived.wait(5), got
    sent = float(out.split()[0])  # perf_counter is CLOCK_MONOTONIC: comparable across processes
    assert [(n, key) for n, key, _ in got] == [("tenant:a", k(5)), ("tenant:b", None), (None, None)]
    assert got[0][2] - sent < 0.25, f"delivered after {(got[0][2] - sent) * 1000:.1f} ms"
    handle.close()
    store.remove(k(1), "x")
    time.sleep(0.1)
    assert len(got) == 3  # closed: nothing more delivered
    store.close()


def test_ignore_own_and_listener_survives_a_server_restart(fresh_server):
    url = f"redis://127.0.0.1:{fresh_server.port}/0"
    store, other = RedisStore.from_url(url), RedisStore.from_url(url)
    got, reconnects = [], []
    handle = store.subscribe_invalidations(
        lambda n, key: got.append((n, key)), ignore_own=True, on_reconnect=lambda: reconnects.append(1)
    )
    store.remove(k(1), "mine")
    other.remove(k(2), "theirs")
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == [("theirs", k(2))]
    fresh_server.kill()
    fresh_server.start()
    deadline = time.monotonic() + 10
    while not (reconnects and handle.ready.is_set()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reconnects, "the listener did not reconnect"
    other.clear("again")
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ("again", None) in got
    handle.close()
    store.close()
    other.close()


def test_single_flight_lock(url):
    store, other = RedisStore.from_url(url), RedisStore.from_url(url)
    token = store.try_lead("ns", k(1), 5.0)
    assert token and other.try_lead("ns", k(1), 5.0) is None
    assert store.try_lead("ns:x", k(1), 5.0) is not None  # another namespace, another lock

    def lead():
        time.sleep(0.1)
        store.put(k(1), "ns", b"answer", T0)
        store.end_lead("ns", k(1), token)

    threading.Thread(target=lead).start()
    started = time.monotonic()
    assert other.wait_for("ns", k(1), T0, 5.0) == (b"answer", T0)
    assert time.monotonic() - started < 1.0
    assert not store.end_lead("ns", k(1), token)  # already released
    # A stale token cannot free the lock of a later leader.
    new = other.try_lead("ns", k(1), 5.0)
    assert new and not store.end_lead("ns", k(1), token) and other.try_lead("ns", k(1), 5.0) is None
    assert other.end_lead("ns", k(1), new)
    # The lock vanished without an entry: None at once; a lock still held past the timeout: None.
    t = store.try_lead("ns", k(2), 5.0)
    threading.Timer(0.05, lambda: store.end_lead("ns", k(2), t)).start()
    assert other.wait_for("ns", k(2), T0, 5.0) is None
    store.try_lead("ns", k(3), 5.0)
    started = time.monotonic()
    assert other.wait_for("ns", k(3), T0, 0.2) is None
    assert 0.2 <= time.monotonic() - started < 1.0
    store.close()
    other.close()


def test_a_killed_leader_releases_the_lock_by_expiry(url):
    proc = child(
        """
        import sys, time
        from dejacache.stores._redis import RedisStore
        s = RedisStore.from_url(sys.argv[1])
        print(s.try_lead("ns", "%032x" % 9, 0.5), flush=True)
        time.sleep(60)
        """,
        url,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() not in ("", "None")
    store = RedisStore.from_url(url)
    assert store.try_lead("ns", k(9), 5.0) is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(5)
    started = time.monotonic()
    assert store.wait_for("ns", k(9), T0, 5.0) is None  # the lock expired, no entry
    assert time.monotonic() - started < 1.5
    assert store.try_lead("ns", k(9), 5.0) is not None
    store.close()


WORKER = """
import sys, random
from dejacache.stores._redis import RedisStore
url, wid = sys.argv[1], int(sys.argv[2])
s = RedisStore.from_url(url)
rng = random.Random(wid)
puts = removed = 0
for i in range(400):
    key = "%032x" % (wid * 100_000 + i)
    s.put(key, "shared", b"w%d-%d" % (wid, i), 1000.0 + i)
    puts += 1
    if i % 4 == 3:
        assert s.remove(key, "shared")
        removed += 1
    j = rng.randrange(i + 1)
    got = s.get("%032x" % (wid * 100_000 + j), "shared", 1000.0 + i)
    assert got is None or got[0] == b"w%d-%d" % (wid, j), got
    s.get("%032x" % rng.randrange(10**6), "shared", 1000.0)
s.put_many([("%032x" % (wid * 100_000 + 50_000 + i), "bulk", b"b", None) for i in range(100)], 1000.0)
st = dict(s.stats())["shared"]
print(puts, removed, st["hits"], st["misses"], st["stores"], flush=True)
"""


def test_four_processes_mixed_operations_counts_add_up(url):
    procs = [child(WORKER, url, str(w)) for w in range(4)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append([int(x) for x in out.split()])
    store = RedisStore.from_url(url)
    stats = dict(store.stats())
    puts = sum(r[0] for r in results)
    removed = sum(r[1] for r in results)
    assert stats["shared"]["entries"] == puts - removed == 4 * 300
    assert stats["bulk"]["entries"] == 400
    assert all(r[4] == r[0] for r in results)  # each process counted its own stores
    assert all(r[2] + r[3] == 800 for r in results)  # and one hit or miss per get
    assert len(store) == 1600
    store.close()


def test_primitives_on_a_cluster(cluster):
    url = "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in cluster)
    store, other = RedisStore.from_url(url), RedisStore.from_url(url)
    got = []
    handle = store.subscribe_invalidations(lambda n, key: got.append((n, key)))
    other.remove(k(1), "c")
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got == [("c", k(1))]
    token = store.try_lead("c", k(2), 5.0)
    assert token and other.try_lead("c", k(2), 5.0) is None
    store.put(k(2), "c", b"v", T0)
    assert store.end_lead("c", k(2), token)
    assert other.wait_for("c", k(2), T0, 1.0) == (b"v", T0)
    handle.close()
    store.close()
    other.close()
