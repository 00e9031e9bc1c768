"""Redis Stack and PostgreSQL + pgvector, started once per session on 127.0.0.1 (see servers.py),
and ``remote_store``: a factory of fresh stores (a new name each) on either server."""

from __future__ import annotations

import itertools
import os

import pytest

from .servers import ServerMissing, start_pgvector, start_redis_stack

#: the pgvector URL (with its password) reaches the stores through the environment, as a config
#: file would pass it; snapshots then record the reference, not the secret
PG_ENV = "DEJACACHE_TEST_PGVECTOR_URL"
_names = itertools.count()


def _start(starter):
    try:
        return starter()
    except ServerMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_stack():
    server = _start(start_redis_stack)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pgvector_server():
    server = _start(start_pgvector)
    os.environ[PG_ENV] = server.url
    yield server
    os.environ.pop(PG_ENV, None)
    server.stop()


def new_store(kind: str, request, dim: int, metric: str = "cosine", **options):
    """A store with a name no other test uses, on the session's server of ``kind``."""
    from dejacache.vectorstores import PgVectorStore, RedisVectorStore

    name = f"t{os.getpid()}_{next(_names)}"
    # Small graphs build faster; the suite's recall checks still hold at this size.
    options = {"M": 8, "ef_construction": 32, **options}
    if kind == "redis":
        server = request.getfixturevalue("redis_stack")
        return RedisVectorStore(dim, metric, server.url, name=name, **options)
    request.getfixturevalue("pgvector_server")
    return PgVectorStore(dim, metric, f"os.environ/{PG_ENV}", name=name, **options)


@pytest.fixture(params=["redis", "pgvector"])
def remote_kind(request):
    return request.param


@pytest.fixture
def remote_store(request, remote_kind):
    """``remote_store(dim, metric="cosine", **options)``: a new, empty store on the server."""
    made = []

    def make(dim, metric="cosine", **options):
        store = new_store(remote_kind, request, dim, metric, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        try:
            store.drop_all()
            store.close()
        except Exception:  # noqa: BLE001 - a test may have stopped or broken the connection
            pass
