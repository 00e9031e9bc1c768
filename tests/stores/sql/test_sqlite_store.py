"""SQLiteStore: the shared behaviour, persistence, eviction orders and the file's layout."""

from __future__ import annotations

import pytest
from dejacache.stores._sqlite import SQLiteStore

from ..store_suite import StoreBehaviour


class TestSQLiteStore(StoreBehaviour):
    @pytest.fixture
    def make_store(self, tmp_path):
        made = []

        def make(max_entries=None, max_bytes=None, default_ttl=None, eviction="lru"):
            store = SQLiteStore(
                tmp_path / f"cache{len(made)}.db",
                max_entries=max_entries,
                max_bytes=max_bytes,
                default_ttl=default_ttl,
                eviction=eviction,
            )
            made.append(store)
            return store

        yield make
        for store in made:
            store.close()
