"""The Cache API: reads, writes, controls, TTL, eviction, namespaces, statistics."""

import dejacache
import pytest
from conftest import chat


def test_get_put_and_hit_fields(clock):
    c = dejacache.Cache(clock=clock)
    assert c.get(chat()) is None
    key = c.put(chat(), {"answer": 1})
    clock.advance(2.5)
    hit = c.get(chat())
    assert isinstance(hit, dejacache.Hit)
    assert (hit.response, hit.key, hit.source, hit.age, hit.namespace) == ({"answer": 1}, key, "exact", 2.5, "default")
    assert hit.similarity is None


def test_hits_are_independent_copies():
    c = dejacache.Cache()
    c.put(chat(), {"choices": [1]})
    c.get(chat()).response["choices"].append(2)
    assert c.get(chat()).response == {"choices": [1]}


def test_call_marks_hits_and_not_misses():
    c = dejacache.Cache()
    calls = []
    llm = lambda r: calls.append(r) or {"answer": len(calls)}
    first = c.call(chat(), llm)
    second = c.call(chat(), llm)
    assert first == {"answer": 1} and "cache" not in first
    assert second == {"answer": 1, "cache": True}
    assert len(calls) == 1


def test_stream_flag_does_not_split_entries():
    c = dejacache.Cache()
    c.put(chat(stream=False), {"a": 1})
    assert c.get(chat(stream=True, stream_options={"include_usage": True})) is not None


def test_caching_false_bypasses_both_ways():
    c = dejacache.Cache()
    c.put(chat(), {"a": 1})
    assert c.get(chat(), caching=False) is None
    assert c.call(chat(), lambda r: {"a": 2}, caching=False) == {"a": 2}
    assert c.call(chat("new"), lambda r: {"a": 3}, caching=False) == {"a": 3}
    assert c.get(chat("new")) is None


def test_no_cache_skips_the_read_but_stores():
    c = dejacache.Cache()
    c.put(chat(), {"v": "old"})
    assert c.call(chat(), lambda r: {"v": "new"}, cache={"no-cache": True}) == {"v": "new"}
    assert c.get(chat()).response == {"v": "new"}


def test_no_store_reads_but_never_writes():
    c = dejacache.Cache()
    assert c.call(chat(), lambda r: {"v": 1}, cache={"no-store": True}) == {"v": 1}
    assert c.get(chat()) is None
    c.put(chat(), {"v": 2})
    assert c.call(chat(), lambda r: {"v": 3}, cache={"no-store": True}) == {"v": 2, "cache": True}


def test_controls_inside_the_request_work_and_stay_out_of_the_key():
    c = dejacache.Cache()
    c.put(chat(), {"v": 1})
    assert c.get({**chat(), "cache": {"no-cache": True}}) is None
    assert c.get({**chat(), "caching": False}) is None
    assert c.get({**chat(), "cache": {"s-maxage": 100}}).response == {"v": 1}


def test_ttl_default_and_per_call(clock):
    c = dejacache.Cache(ttl=10, clock=clock)
    c.put(chat("a"), {"v": "a"})
    c.put(chat("b"), {"v": "b"}, cache={"ttl": 100})
    clock.advance(9.9)
    assert c.get(chat("a")) is not None
    clock.advance(0.2)
    assert c.get(chat("a")) is None
    assert c.get(chat("b")) is not None
    clock.advance(100)
    assert c.get(chat("b")) is None
    assert c.stats()["expirations"] == 2


def test_ttl_zero_stores_nothing(clock):
    c = dejacache.Cache(clock=clock)
    c.put(chat(), {"v": 1}, cache={"ttl": 0})
    assert len(c) == 0


def test_s_maxage_refuses_old_entries_without_deleting_them(clock):
    c = dejacache.Cache(clock=clock)
    c.put(chat(), {"v": 1})
    clock.advance(60)
    assert c.get(chat(), cache={"s-maxage": 30}) is None
    assert c.get(chat(), cache={"s-maxage": 90}) is not None
    assert c.call(chat(), lambda r: {"v": 2}, cache={"s-maxage": 30}) == {"v": 2}
    assert c.get(chat()).response == {"v": 2}


def test_purge_expired_drops_dead_entries(clock):
    c = dejacache.Cache(ttl=5, clock=clock)
    for i in range(10):
        c.put(chat(str(i)), {"i": i})
    clock.advance(6)
    assert c.purge_expired() == 10
    assert len(c) == 0


@pytest.mark.parametrize(
    "eviction, touched, survivor, evicted",
    [("lru", "a", "a", "b"), ("fifo", "a", "b", "a"), ("lfu", "b", "b", "a")],
)
def test_eviction_order(eviction, touched, survivor, evicted):
    c = dejacache.Cache(max_entries=2, eviction=eviction)
    c.put(chat("a"), 1)
    c.put(chat("b"), 2)
    c.get(chat(touched))
    c.get(chat(touched))
    c.put(chat("c"), 3)
    assert c.get(chat(survivor)) is not None
    assert c.get(chat(evicted)) is None
    assert c.stats()["evictions"] == 1


def test_lru_order_over_many_entries():
    c = dejacache.Cache(max_entries=50)
    for i in range(50):
        c.put(chat(str(i)), i)
    for i in range(0, 50, 2):  # read the even ones: the odd ones become the oldest
        c.get(chat(str(i)))
    for i in range(25):
        c.put(chat(f"new{i}"), i)
    assert all(c.get(chat(str(i))) is not None for i in range(0, 50, 2))
    assert all(c.get(chat(str(i))) is None for i in range(1, 50, 2))


def test_byte_cap_holds_and_oversized_entries_are_skipped():
    c = dejacache.Cache(max_entries=None, max_bytes=2_000)
    for i in range(100):
        c.put(chat(str(i)), "x" * 100)
    st = c.stats()
    assert st["bytes"] <= 2_000 and st["entries"] < 100 and st["evictions"] > 0
    c.put(chat("huge"), "x" * 5_000)
    assert c.get(chat("huge")) is None
    assert c.stats()["bytes"] <= 2_000


def test_namespaces_never_see_each_other():
    c = dejacache.Cache()
    c.put(chat(), {"tenant": "a"}, namespace="a")
    c.put(chat(), {"tenant": "b"}, cache={"namespace": "b"})
    assert c.get(chat(), namespace="a").response == {"tenant": "a"}
    assert c.get(chat(), namespace="b").response == {"tenant": "b"}
    assert c.get(chat()) is None
    assert c.call(chat(), lambda r: {"tenant": "c"}, namespace="c") == {"tenant": "c"}
    assert c.clear("a") == 1
    assert c.get(chat(), namespace="a") is None
    assert c.get(chat(), namespace="b") is not None


def test_default_namespace_is_configurable():
    c = dejacache.Cache(namespace="tenant-1")
    c.put(chat(), 1)
    assert c.get(chat(), namespace="tenant-1") is not None
    assert c.get(chat(), namespace="default") is None


def test_delete_clear_len_contains():
    c = dejacache.Cache()
    c.put(chat("a"), 1)
    c.put(chat("b"), 2)
    assert len(c) == 2 and chat("a") in c and chat("z") not in c
    assert c.delete(chat("a")) and not c.delete(chat("a"))
    assert c.clear() == 1 and len(c) == 0


def test_stats_count_per_namespace():
    c = dejacache.Cache()
    c.call(chat(), lambda r: {"v": 1})
    c.call(chat(), lambda r: {"v": 1})
    c.call(chat(), lambda r: {"v": 1}, namespace="other")
    st = c.stats()
    assert (st["hits"], st["misses"], st["stores"], st["entries"]) == (1, 2, 2, 2)
    assert st["namespaces"]["default"]["hits"] == 1
    assert st["namespaces"]["other"]["misses"] == 1
    assert st["hit_rate"] == pytest.approx(1 / 3)
    assert st["latency_saved_s"] >= 0
    assert st["bytes"] > 0


def test_savings_come_from_entry_meta():
    c = dejacache.Cache()
    c.put(chat(), {"v": 1}, meta={"cost_usd": 0.01, "tokens": 300, "latency_s": 1.5})
    c.get(chat())
    c.get(chat())
    st = c.stats()
    assert st["cost_saved_usd"] == pytest.approx(0.02)
    assert st["tokens_saved"] == 600
    assert st["latency_saved_s"] == pytest.approx(3.0)


def test_repr_is_informative():
    assert "max_entries=100000" in repr(dejacache.Cache())
    assert "source='exact'" in repr(dejacache.Hit({}, "k", "exact", 0.0, "default"))


def test_put_many_on_an_exact_cache_matches_put_in_a_loop():
    one, many = dejacache.Cache(ttl=60), dejacache.Cache(ttl=60)
    items = [(chat(f"q{i}"), {"a": i}, {"cost_usd": 0.01}) for i in range(50)] + [(chat("q3"), {"a": "later"})]
    keys = [one.put(*item[:2], meta=item[2] if len(item) == 3 else None) for item in items]
    assert many.put_many(iter(items)) == keys
    for request, _, *_ in items:
        assert many.get(request).response == one.get(request).response
    assert many.get(chat("q3")).response == {"a": "later"}
    assert len(many) == len(one) == 50
    s = many.stats()
    assert s["stores"] == one.stats()["stores"] == 51
