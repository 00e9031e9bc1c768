"""The behaviour every entry store must share with the in-process Rust store.

A test module for a store subclasses ``StoreBehaviour`` and provides a ``make_store`` fixture:
a factory ``(max_entries=None, max_bytes=None, default_ttl=None, eviction="lru") -> store``
returning a fresh, empty store (on a server: a fresh database or prefix). The in-process store
passes every test here (tests/stores/test_memory_store.py), which is what makes it the model.
"""

from __future__ import annotations

import pytest
from dejacache import _core
from dejacache.stores._base import COUNTER_NAMES, EntryStore

T0 = 1_000_000.0  # an injected clock reading; stores must use `now`, not their own clock


def k(i: int) -> str:
    return f"{i:032x}"


def ns_stats(store) -> dict[str, dict[str, int]]:
    return dict(store.stats())


class StoreBehaviour:
    """Subclass with a ``make_store`` fixture (see the module docstring)."""

    @pytest.fixture
    def store(self, make_store):
        return make_store()

    def test_is_an_entry_store(self, store):
        assert isinstance(store, EntryStore)

    def test_put_get_roundtrip_keeps_bytes_and_created(self, store):
        value = b'{"v":1,"r":{"a":"\\u00e9\\n"},"m":{}}' + bytes(range(256))
        assert store.put(k(1), "default", value, T0) == (True, 0)
        assert store.get(k(1), "default", T0 + 5) == (value, T0)
        assert store.get(k(2), "default", T0) is None
        assert store.contains(k(1), "default", T0) and not store.contains(k(2), "default", T0)

    def test_lookup_keys_the_request_with_the_schema(self, store):
        schema = _core.KeySchema(["cache"])
        request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 1}
        key = schema.key(request)
        assert store.lookup(schema, request, "default", T0) == (key, None, 0.0)
        store.put(key, "default", b"x", T0)
        same = {"temperature": 1.0, "messages": [{"content": "hi", "role": "user"}], "model": "m", "cache": {}}
        assert store.lookup(schema, same, "default", T0 + 1) == (key, b"x", T0)
        with pytest.raises(TypeError):
            store.lookup(schema, {"model": object()}, "default", T0)

    def test_overwrite_replaces_value_and_created(self, store):
        store.put(k(1), "default", b"old", T0)
        store.put(k(1), "default", b"new", T0 + 3)
        assert store.get(k(1), "default", T0 + 4) == (b"new", T0 + 3)
        assert len(store) == 1

    def test_namespaces_never_cross(self, store):
        store.put(k(1), "tenant-a", b"a", T0)
        store.put(k(1), "tenant-b", b"b", T0)
        store.put(k(2), "tenant-a:x", b"c", T0)  # separators in names must not confuse keys
        assert store.get(k(1), "tenant-a", T0) == (b"a", T0)
        assert store.get(k(1), "tenant-b", T0) == (b"b", T0)
        assert store.get(k(2), "tenant-a", T0) is None
        assert store.get(k(1), "tenant-c", T0) is None
        assert store.remove(k(1), "tenant-a")
        assert not store.remove(k(1), "tenant-a")
        assert store.get(k(1), "tenant-b", T0) == (b"b", T0)

    def test_clear_one_namespace_leaves_the_others(self, store):
        for i in range(5):
            store.put(k(i), "a", b"a", T0)
            store.put(k(i), "b", b"b", T0)
        store.put(k(9), "a:b", b"ab", T0)
        assert store.clear("a") == 5
        assert all(store.get(k(i), "a", T0) is None for i in range(5))
        assert all(store.get(k(i), "b", T0) == (b"b", T0) for i in range(5))
        assert store.get(k(9), "a:b", T0) == (b"ab", T0)
        assert sorted(store.keys("b")) == [k(i) for i in range(5)]
        assert store.clear() == 6
        assert len(store) == 0

    def test_ttl_per_entry_and_default(self, make_store):
        store = make_store(default_ttl=10.0)
        store.put(k(1), "default", b"d", T0)  # default ttl 10
        store.put(k(2), "default", b"e", T0, 100.0)  # its own ttl
        assert store.get(k(1), "default", T0 + 9.5) is not None
        assert store.get(k(1), "default", T0 + 10.5) is None
        assert store.get(k(2), "default", T0 + 50) is not None
        assert store.get(k(2), "default", T0 + 100.5) is None

    def test_ttl_zero_stores_nothing(self, store):
        assert store.put(k(1), "default", b"x", T0, 0.0) == (False, 0)
        assert store.get(k(1), "default", T0) is None

    def test_max_age_uses_the_stored_creation_time(self, store):
        store.put(k(1), "default", b"x", T0)
        assert store.get(k(1), "default", T0 + 30, 60.0) is not None
        assert store.get(k(1), "default", T0 + 90, 60.0) is None
        assert store.get(k(1), "default", T0 + 90) is not None  # still there for readers without max_age

    def test_purge_expired(self, store):
        store.put(k(1), "default", b"x", T0, 5.0)
        store.put(k(2), "default", b"y", T0)
        assert store.purge_expired(T0 + 6) == 1
        assert store.keys("default") == [k(2)]

    def test_max_entries_evicts(self, make_store):
        store = make_store(max_entries=3)
        evicted = sum(store.put(k(i), "default", b"x", T0 + i)[1] for i in range(5))
        assert evicted == 2
        assert len(store) == 3
        assert store.get(k(4), "default", T0 + 10) is not None

    def test_max_bytes_rejects_oversized_and_evicts(self, make_store):
        store = make_store(max_bytes=100)
        assert store.put(k(1), "default", b"x" * 101, T0) == (False, 0)
        store.put(k(2), "default", b"x" * 60, T0)
        store.put(k(3), "default", b"y" * 60, T0 + 1)
        assert store.get(k(3), "default", T0 + 2) == (b"y" * 60, T0 + 1)
        assert store.get(k(2), "default", T0 + 2) is None

    def test_stats_count_per_namespace(self, store):
        store.put(k(1), "a", b"xyz", T0)
        store.get(k(1), "a", T0)
        store.get(k(2), "a", T0)
        store.put(k(1), "b", b"q", T0)
        stats = ns_stats(store)
        assert set(stats["a"]) >= set(COUNTER_NAMES)
        assert (stats["a"]["hits"], stats["a"]["misses"], stats["a"]["stores"]) == (1, 1, 1)
        assert (stats["a"]["entries"], stats["a"]["bytes"]) == (1, 3)
        assert stats["b"]["entries"] == 1 and stats["b"]["hits"] == 0

    def test_put_many_when_offered(self, store):
        if not hasattr(store, "put_many"):
            pytest.skip("this store has no bulk write")
        items = [(k(i), "default", b"v%d" % i, None) for i in range(100)] + [(k(0), "default", b"last", None)]
        assert store.put_many(items, T0) == 101
        assert store.get(k(0), "default", T0) == (b"last", T0)
        assert store.get(k(99), "default", T0) == (b"v99", T0)
        assert len(store) == 100
