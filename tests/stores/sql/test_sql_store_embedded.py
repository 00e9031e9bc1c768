"""SQLStore on the embedded databases (SQLite through SQLAlchemy, DuckDB): the shared behaviour."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlalchemy", reason="SQLStore needs the sql extra: pip install 'dejacache[sql]'")

from dejacache.stores._sql import SQLStore  # noqa: E402

from ..store_suite import StoreBehaviour  # noqa: E402


def _maker(url_of, made):
    def make(max_entries=None, max_bytes=None, default_ttl=None, eviction="lru"):
        store = SQLStore(
            url_of(len(made)), max_entries=max_entries, max_bytes=max_bytes, default_ttl=default_ttl, eviction=eviction
        )
        made.append(store)
        return store

    return make


class TestSQLStoreOnSQLite(StoreBehaviour):
    @pytest.fixture
    def make_store(self, tmp_path):
        made = []
        yield _maker(lambda i: f"sqlite:///{tmp_path}/sa{i}.db", made)
        for store in made:
            store.close()


class TestSQLStoreOnDuckDB(StoreBehaviour):
    @pytest.fixture
    def make_store(self, tmp_path):
        pytest.importorskip("duckdb_engine", reason="DuckDB needs the duckdb extra: pip install 'dejacache[duckdb]'")
        made = []
        yield _maker(lambda i: f"duckdb:///{tmp_path}/d{i}.duckdb", made)
        for store in made:
            store.close()
