"""Objects behind the VectorStore interface: a VectorIndex, a protocol-only object, the guard."""

from __future__ import annotations

import numpy as np
import pytest
from dejacache import VectorIndex
from dejacache.vectorstores import BuiltinStore, GuardedVectorStore, VectorStore
from dejacache.vectorstores._delegate import DelegatingStore, as_vector_store
from semantic_helpers import BruteForceStore


def rows(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def test_a_vector_index_becomes_a_builtin_store_over_the_same_vectors():
    index = VectorIndex(8)
    store = as_vector_store(index, dim=8)
    assert type(store) is BuiltinStore and store.index is index and store.ordered_results
    store.add_many(np.arange(3, dtype=np.uint64), rows(3), namespace="a")
    assert index.count("a") == 3 and as_vector_store(store, dim=8) is store


def test_a_protocol_object_gets_its_calls_unchanged():
    obj = BruteForceStore()
    store = as_vector_store(obj, dim=8)
    assert isinstance(store, DelegatingStore) and isinstance(store, VectorStore) and store.store is obj
    assert (store.dim, store.metric, store.ordered_results) == (8, "cosine", False)
    data = rows(4)
    store.add_many(np.arange(4, dtype=np.uint64), data, namespace="a")
    store.add(np.array([9], np.uint64), data[:1], namespace="b")
    assert set(obj.spaces) == {"a", "b"} and len(store) == 5
    ids, _ = store.search(data[2:3], 1, namespace="a")
    assert int(ids[0, 0]) == 2 and obj.searches == 1
    assert store.remove(np.array([2], np.uint64), namespace="a") == 1
    assert store.spaces is obj.spaces  # other attributes pass through


def test_what_the_object_lacks_is_a_clear_type_error():
    store = as_vector_store(BruteForceStore(), dim=8)
    with pytest.raises(TypeError, match=r"BruteForceStore has no count\(\)"):
        store.count("a")
    with pytest.raises(ValueError, match="dim="):
        DelegatingStore(BruteForceStore())


class _Down(BuiltinStore):
    def add_many(self, ids, vectors, namespace="default"):
        raise ConnectionError("server gone")


def test_the_guard_answers_a_failing_bulk_add_with_a_lost_vector_not_an_error():
    guard = GuardedVectorStore(_Down(8))
    guard.add_many(np.arange(3, dtype=np.uint64), rows(3), namespace="a")
    assert guard.errors == 1 and guard.count("a") == 0
    assert guard.ordered_results  # the wrapped store's promise
    with pytest.raises(ValueError, match="2 ids for 3 vectors"):  # the caller's own bad input is still said
        GuardedVectorStore(BuiltinStore(8)).add_many(np.arange(2, dtype=np.uint64), rows(3), namespace="a")
