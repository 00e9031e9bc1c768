"""Session-wide PostgreSQL and MariaDB servers (tests/stores/sql/servers.py), started on first
use and stopped at the end; a test whose server is not installed skips naming the package."""

from __future__ import annotations

import uuid

import pytest

from . import servers


def _server(start, request):
    try:
        server = start()
    except servers.ServerMissing as exc:
        pytest.skip(str(exc))
    request.addfinalizer(server.stop)
    return server


@pytest.fixture(scope="session")
def postgres_server(request):
    pytest.importorskip("psycopg", reason="PostgreSQL tests need the postgres extra: pip install 'dejacache[postgres]'")
    return _server(servers.start_postgres, request)


@pytest.fixture(scope="session")
def mariadb_server(request):
    pytest.importorskip("pymysql", reason="MariaDB tests need the mysql extra: pip install 'dejacache[mysql]'")
    return _server(servers.start_mariadb, request)


@pytest.fixture
def sql_store_maker():
    """``make(url, **options)``: an SQLStore on a fresh table, dropped afterwards."""
    pytest.importorskip("sqlalchemy", reason="SQLStore needs the sql extra: pip install 'dejacache[sql]'")
    from dejacache.stores._sql import SQLStore

    made = []

    def make(url, **options):
        options.setdefault("table", f"t_{uuid.uuid4().hex[:12]}")
        store = SQLStore(url, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        try:
            store.table.drop(store.engine, checkfirst=True)
            store.locks.drop(store.engine, checkfirst=True)
        except Exception:  # noqa: BLE001 - a test may have broken the connection on purpose
            pass
        store.close()
