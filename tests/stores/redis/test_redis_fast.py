"""The lean GET of ``RedisStore``'s hit path (``_redis_fast.FastGet``) on real redis-servers: large
values, error replies, AUTH + SELECT, a server restart, and a stall that must never leave a late
reply to be read as the answer to the next GET."""

from __future__ import annotations

import signal
import socket
import struct
import sys
import time

import pytest

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

from dejacache.stores._redis import RedisStore  # noqa: E402
from dejacache.stores._redis_fast import FastGet, RedisReplyError  # noqa: E402

from .conftest import ACL_PASSWORD, ACL_USER, PASSWORD  # noqa: E402


def test_values_of_every_size_and_absent_keys(standalone):
    fast = FastGet("127.0.0.1", standalone.port, db=5)
    values = {"k0": b"", "k1": b"x", "k2": bytes(range(256)) * 4, "k3": b"\r\n$-1\r\n" * 9, "k4": b"z" * (3 << 20)}
    import redis

    r = redis.Redis(host="127.0.0.1", port=standalone.port, db=5)
    for k, v in values.items():
        r.set(f"dejacache:fast:{k}", v)
    for _ in range(2):  # twice: the same connection, still in step
        for k, v in values.items():
            assert fast.get(f"dejacache:fast:{k}") == v
        assert fast.get("dejacache:fast:absent") is None
    r.lpush("dejacache:fast:list", b"a")
    with pytest.raises(RedisReplyError, match="WRONGTYPE"):
        fast.get("dejacache:fast:list")
    assert fast.get("dejacache:fast:k1") == b"x"  # an error reply leaves the connection usable
    assert redis.Redis(host="127.0.0.1", port=standalone.port, db=0).get("dejacache:fast:k1") is None  # SELECT 5 held
    r.close()
    fast.close()


def test_auth_with_acl_user_and_password_never_in_errors(acl_server):
    url = f"redis://{ACL_USER}:{ACL_PASSWORD}@127.0.0.1:{acl_server.port}/2"
    store = RedisStore.from_url(url)
    assert store._fast is not None  # the fast path serves this URL
    store.put(f"{1:032x}", "ns", b"v", 1.0)
    assert store.get(f"{1:032x}", "ns", 2.0) == (b"v", 1.0)
    store.close()
    bad = FastGet("127.0.0.1", acl_server.port, username=ACL_USER, password="wrong-" + PASSWORD)
    with pytest.raises(RedisReplyError) as info:
        bad.get("dejacache:x")
    assert PASSWORD not in str(info.value) and "wrong-" not in str(info.value)


def test_a_stall_never_leaves_a_late_reply_for_the_next_get(fresh_server):
    import redis

    r = redis.Redis(host="127.0.0.1", port=fresh_server.port)
    r.set("dejacache:a", b"answer-a")
    r.set("dejacache:b", b"answer-b")
    fast = FastGet("127.0.0.1", fresh_server.port, socket_timeout=0.2)
    assert fast.get("dejacache:a") == b"answer-a"
    fresh_server.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            fast.get("dejacache:a")
        assert time.monotonic() - started < 1.0
    finally:
        fresh_server.signal(signal.SIGCONT)
    time.sleep(0.05)  # the server now answers the stalled GET, on the dropped socket
    assert fast.get("dejacache:b") == b"answer-b"
    # A restart: the reused socket is dead, the GET is retried once on a new one.
    fresh_server.kill()
    fresh_server.start()
    assert fast.get("dejacache:b") is None  # empty after the restart, and no error
    r.close()
    fast.close()


def test_only_plain_redis_urls_take_the_fast_path(tls_server, certs, cluster):
    tls = RedisStore.from_url(
        f"rediss://127.0.0.1:{tls_server.port}/0",
        ssl_ca_certs=certs["ca"],
        ssl_certfile=certs["client_cert"],
        ssl_keyfile=certs["client_key"],
    )
    clu = RedisStore.from_url(f"redis+cluster://127.0.0.1:{cluster[0].port}")
    assert tls._fast is None and clu._fast is None
    tls.close()
    clu.close()


def test_a_thread_that_ends_takes_its_socket_with_it(standalone):
    import gc
    import threading

    fast = FastGet("127.0.0.1", standalone.port)

    def clients() -> int:
        return int(standalone.cli("info", "clients").split("connected_clients:")[1].split()[0])

    before = clients()
    threads = [threading.Thread(target=fast.get, args=("dejacache:none",)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gc.collect()
    deadline = time.monotonic() + 5
    while clients() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert clients() <= before  # 20 threads came and went: no connection left open
    fast.get("dejacache:none")
    fast.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernel socket timeouts are used on Linux only")
@pytest.mark.parametrize(("timeout", "timeval"), [(0.2, (0, 200_000)), (1.5, (1, 500_000)), (2.0, (2, 0))])
def test_the_timeout_is_the_kernels_on_a_blocking_socket(standalone, timeout, timeval):
    # No poll() before each read: the socket blocks and the kernel times the read and the write out.
    fast = FastGet("127.0.0.1", standalone.port, socket_timeout=timeout)
    assert fast.get("dejacache:absent") is None
    sock = fast._local.conn.sock
    assert sock.gettimeout() is None
    for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
        assert struct.unpack("ll", sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("ll"))) == timeval
    fast.close()
