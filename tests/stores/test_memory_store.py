"""The in-process Rust store is the model the other stores are tested against."""

from __future__ import annotations

import pytest
from dejacache import _core

from .store_suite import StoreBehaviour


class TestMemoryStore(StoreBehaviour):
    @pytest.fixture
    def make_store(self):
        def make(max_entries=None, max_bytes=None, default_ttl=None, eviction="lru"):
            return _core.EntryStore(max_entries, max_bytes, default_ttl, eviction)

        return make
