"""The semantic tier sees one interface, ``vectorstores.VectorStore``: what differs between
stores (results best first, a faster bulk add) is declared on it, never found from a type."""

from __future__ import annotations

import dejacache
import numpy as np
import pytest
from dejacache import Semantic, VectorIndex, evaluation
from dejacache.vectorstores import BuiltinStore, VectorStore
from semantic_helpers import BruteForceStore, WordEmbedder

DIM = 256  # WordEmbedder's


def make(vector_store, threshold=0.9):
    return dejacache.Cache(
        semantic=Semantic(
            embedder=WordEmbedder(), threshold=threshold, evaluator=evaluation.Cosine(), vector_store=vector_store
        )
    )


def chat(text):
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


def answer(text):
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


class BestLast(BuiltinStore):
    """The built-in index listing its best result last; ``ordered_results`` says so or not."""

    def search(self, queries, k=10, namespace="default"):
        ids, sims = super().search(queries, k, namespace)
        found = int((~np.isnan(sims[0])).sum())
        order = list(range(1, found)) + [0] + list(range(found, k))
        return ids[:, order].copy(), sims[:, order].copy()


def three_stored(store):
    cache = make(store, threshold=0.5)
    cache.put(chat("capital France Paris"), answer("three words"))
    cache.put(chat("capital France"), answer("two words"))
    cache.put(chat("capital France Paris Seine"), answer("four words"))
    return cache


def test_a_store_that_does_not_declare_best_first_is_sorted():
    store = BestLast(DIM)
    assert store.ordered_results is True  # inherited: the built-in index's promise
    store.ordered_results = False  # this one breaks it, and says so
    hit = three_stored(store).get(chat("the capital of France"))
    assert hit.response == answer("two words")


def test_a_store_declaring_best_first_is_taken_at_its_word():
    # The default post-processor stops at the first passing candidate the list allows: with
    # the order promised, the tier does not sort (its hit path saves the work), so a store
    # that promises wrongly is read in its own order.
    hit = three_stored(BestLast(DIM)).get(chat("the capital of France"))
    assert hit.response == answer("three words")


class _Recording:
    """A VectorIndex-shaped object that records how vectors arrive (BuiltinStore.from_index)."""

    def __init__(self):
        self.inner = VectorIndex(DIM)
        self.adds: list[tuple[int, int | None]] = []
        self.dim, self.metric = DIM, "cosine"

    def add(self, ids, vectors, namespace=None, threads=None):
        self.adds.append((len(ids), threads))
        self.inner.add(ids, vectors, namespace, threads)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_put_many_loads_through_add_many_and_the_builtin_store_builds_on_threads(monkeypatch):
    recording = _Recording()
    store = BuiltinStore.from_index(recording)
    monkeypatch.setattr(store, "parallel_add_from", 16)
    cache = make(store)
    cache.put_many([(chat(f"tell me about topic{i}"), answer(str(i))) for i in range(40)])
    cache.put(chat("one more question here"), answer("x"))
    assert [n for n, _ in recording.adds] == [40, 1]
    assert recording.adds[0][1] is not None and recording.adds[1][1] is None
    assert cache.get(chat("please tell me about topic7")).response == answer("7")


@pytest.mark.parametrize("kind", ["VectorIndex", "protocol object", "VectorStore"])
def test_every_vector_store_given_is_seen_as_a_vector_store(kind):
    given = {"VectorIndex": VectorIndex(DIM), "protocol object": BruteForceStore(), "VectorStore": BuiltinStore(DIM)}[
        kind
    ]
    cache = make(given)
    cache.put(chat("capital of France"), answer("Paris"))
    assert cache.get(chat("what is the capital of France")).response == answer("Paris")
    tier_store = cache.semantic.index
    assert isinstance(tier_store, VectorStore)
    if kind == "VectorIndex":
        assert tier_store.index is given and len(given) == 1  # the same vectors, not a copy
    elif kind == "protocol object":
        assert tier_store.store is given and len(given) == 1 and not tier_store.ordered_results
    else:
        assert tier_store is given
