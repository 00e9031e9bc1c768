"""Multi-level caches: Cache(next_cache=lower)."""

import dejacache
import pytest
from dejacache import Semantic, evaluation
from semantic_helpers import BruteForceStore, WordEmbedder


def chat(text, **params):
    return {"model": "m", "messages": [{"role": "user", "content": text}], **params}


def semantic():
    return Semantic(
        embedder=WordEmbedder(), threshold=0.9, evaluator=evaluation.Cosine(), vector_store=BruteForceStore()
    )


def test_miss_stores_in_every_level_and_lower_hit_is_promoted():
    l2 = dejacache.Cache()
    l1 = dejacache.Cache(max_entries=10, next_cache=l2)
    calls = []
    llm = lambda r: calls.append(r) or {"n": len(calls)}
    assert l1.call(chat("a"), llm) == {"n": 1}
    assert chat("a") in l1 and chat("a") in l2
    l1.clear()  # clears both levels
    assert chat("a") not in l2
    l2.put(chat("b"), {"from": "l2"})
    assert chat("b") not in l1
    hit = l1.get(chat("b"))
    assert hit.response == {"from": "l2"} and hit.source == "exact"
    assert chat("b") in l1  # promoted
    assert l1.call(chat("b"), llm) == {"from": "l2", "cache": True}
    assert len(calls) == 1


def test_promotion_carries_savings_and_respects_no_store():
    l2 = dejacache.Cache()
    l1 = dejacache.Cache(next_cache=l2)
    l2.put(chat("q"), {"a": 1}, meta={"latency_s": 2.0})
    l1.get(chat("q"), cache={"no-store": True})
    assert chat("q") not in l1
    l1.get(chat("q"))
    l1.get(chat("q"))
    assert l1.stats()["latency_saved_s"] == pytest.approx(2.0)


def test_delete_and_put_reach_every_level():
    l3 = dejacache.Cache()
    l2 = dejacache.Cache(next_cache=l3)
    l1 = dejacache.Cache(next_cache=l2)
    l1.put(chat("x"), {"v": 1}, namespace="t")
    assert l3.get(chat("x"), namespace="t").response == {"v": 1}
    assert l1.delete(chat("x"), namespace="t")
    assert l1.get(chat("x"), namespace="t") is None and l3.get(chat("x"), namespace="t") is None


def test_semantic_hit_in_lower_level_is_promoted():
    l2 = dejacache.Cache(semantic=semantic())
    l1 = dejacache.Cache(next_cache=l2)  # exact-only L1 in front of a semantic L2
    l2.put(chat("capital of France"), {"a": "Paris"})
    hit = l1.get(chat("What's the capital of France?"))
    assert hit.source == "semantic" and hit.response == {"a": "Paris"}
    assert l1.get(chat("What's the capital of France?")).source == "exact"


def test_semantic_l1_stores_vectors_of_promoted_answers():
    l2 = dejacache.Cache()
    l1 = dejacache.Cache(semantic=semantic(), next_cache=l2)
    l2.put(chat("capital of France"), {"a": "Paris"})
    assert l1.get(chat("capital of France")).source == "exact"  # from L2, promoted
    l2.clear()
    assert l1.get(chat("Capital of France?")).source == "semantic"


async def test_levels_async():
    l2 = dejacache.Cache(semantic=semantic())
    l1 = dejacache.Cache(next_cache=l2)

    async def llm(r):
        return {"a": "Paris"}

    assert await l1.acall(chat("capital of France"), llm) == {"a": "Paris"}
    assert chat("capital of France") in l2
    l1.delete(chat("capital of France"))
    l2.put(chat("capital of France"), {"a": "Paris"})
    got = await l1.acall(chat("the capital of France?"), lambda r: {"a": "wrong"})
    assert got == {"a": "Paris", "cache": True}
    assert chat("the capital of France?") in l1


def test_level_loops_are_refused():
    a = dejacache.Cache()
    b = dejacache.Cache(next_cache=a)
    with pytest.raises(ValueError):
        a.__init__(next_cache=b)
