"""redis-server processes for the Redis store tests: standalone, password + ACL user, TLS, a
3-master Cluster and Sentinel, all on 127.0.0.1 with free ports, stopped at the end."""

from __future__ import annotations

import pytest

from .servers import REDIS_CLI, REDIS_SERVER, RedisServer, make_certs, make_cluster, need

PASSWORD = "s3cret-Pa55word"
ACL_USER, ACL_PASSWORD = "cacheuser", "acl-Pa55-word"
NOSCRIPT_USER, NOSCRIPT_PASSWORD = "noscripts", "noscript-Pa55"  # scripting refused, as on some hosted Redis


@pytest.fixture(scope="session")
def redis_dir(tmp_path_factory):
    need(REDIS_SERVER, "redis-server")
    need(REDIS_CLI, "redis-tools")
    return tmp_path_factory.mktemp("redis")


@pytest.fixture(scope="session")
def standalone(redis_dir):
    server = RedisServer(redis_dir / "standalone", "--notify-keyspace-events", "")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def acl_server(redis_dir):
    # The default user needs the password; the ACL user may only touch dejacache keys and channel.
    server = RedisServer(
        redis_dir / "acl",
        "--requirepass",
        PASSWORD,
        password=PASSWORD,
        conf=f"user {ACL_USER} on >{ACL_PASSWORD} ~dejacache:* &dejacache:* +@all -@dangerous +scan +info\n"
        f"user {NOSCRIPT_USER} on >{NOSCRIPT_PASSWORD} ~dejacache:* &dejacache:* +@all -@dangerous -@scripting +scan\n",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def certs(redis_dir):
    return make_certs(redis_dir / "certs")


@pytest.fixture(scope="session")
def tls_server(redis_dir, certs):
    server = RedisServer(redis_dir / "tls", tls=certs)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cluster(redis_dir):
    nodes = make_cluster(redis_dir / "cluster")
    yield nodes
    for n in nodes:
        n.stop()


@pytest.fixture(scope="session")
def sentinel(redis_dir):
    master = RedisServer(redis_dir / "sentinel-master")
    sdir = redis_dir / "sentinel"
    sdir.mkdir()
    conf = sdir / "sentinel.conf"
    conf.write_text(f"sentinel monitor mymaster 127.0.0.1 {master.port} 1\nsentinel resolve-hostnames no\n")
    sentinel = RedisServer(sdir, "--sentinel", config_path=str(conf))
    yield master, sentinel
    sentinel.stop()
    master.stop()


@pytest.fixture
def fresh_server(redis_dir, tmp_path):
    """A standalone server of the test's own, which the test may kill or stall."""
    server = RedisServer(tmp_path / "own")
    yield server
    server.stop()
