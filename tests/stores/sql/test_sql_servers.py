"""SQLStore on real PostgreSQL 15 and MariaDB servers: the shared behaviour and server specifics."""

from __future__ import annotations

import pytest

from ..store_suite import T0, StoreBehaviour, k


def _make(server, sql_store_maker):
    def make(max_entries=None, max_bytes=None, default_ttl=None, eviction="lru"):
        return sql_store_maker(
            server.url, max_entries=max_entries, max_bytes=max_bytes, default_ttl=default_ttl, eviction=eviction
        )

    return make


class TestSQLStoreOnPostgreSQL(StoreBehaviour):
    @pytest.fixture
    def make_store(self, postgres_server, sql_store_maker):
        return _make(postgres_server, sql_store_maker)


class TestSQLStoreOnMariaDB(StoreBehaviour):
    @pytest.fixture
    def make_store(self, mariadb_server, sql_store_maker):
        return _make(mariadb_server, sql_store_maker)

    def test_namespaces_differing_in_case_or_trailing_space_never_cross(self, make_store):
        # MariaDB's text collations fold case and pad spaces; the namespace column is binary.
        store = make_store()
        for i, ns in enumerate(["tenant", "Tenant", "tenant ", "TENANT  "]):
            store.put(k(1), ns, b"%d" % i, T0)
        assert [store.get(k(1), ns, T0)[0] for ns in ["tenant", "Tenant", "tenant ", "TENANT  "]] == [
            b"0",
            b"1",
            b"2",
            b"3",
        ]
        assert store.clear("tenant") == 1
        assert len(store) == 3
