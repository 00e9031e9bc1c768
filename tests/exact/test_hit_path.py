"""The exact hit served whole by the in-process store (``EntryStore.hit`` / ``HitPath``): the
same answers, marks, meta, savings and fallbacks as the careful Python read it replaced."""

import asyncio
import hashlib
import pickle

import dejacache
import orjson
import pytest
from conftest import chat
from dejacache import _core
from dejacache._codec import decode, encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _stored_blob(c: dejacache.Cache, request: dict, blob: bytes, namespace: str = "default") -> str:
    """Writes raw bytes under the request's key, as another process or version might have."""
    key = c.key(request)
    c._store.put(key, namespace, blob, 0.0)  # test-only: the store API, not a Cache internal
    return key


def test_hit_object_behaves_like_a_plain_class():
    hit = dejacache.Hit({"a": 1}, "k", "exact", 1.5, "default", None, {"tokens": 3})
    assert (hit.response, hit.key, hit.source, hit.age, hit.namespace, hit.similarity, hit.meta) == (
        {"a": 1},
        "k",
        "exact",
        1.5,
        "default",
        None,
        {"tokens": 3},
    )
    assert dejacache.Hit(1, "k", "exact", 0.0, "ns").meta == {}
    hit.response = "changed"
    hit.meta = {"x": 1}
    assert (hit.response, hit.meta) == ("changed", {"x": 1})
    copy = pickle.loads(pickle.dumps(hit))
    assert (copy.response, copy.key, copy.age, copy.meta) == ("changed", "k", 1.5, {"x": 1})
    assert repr(dejacache.Hit(1, "k", "semantic", 2.0, "ns", 0.91234)) == (
        "Hit(source='semantic', key='k', age=2.000, similarity=0.912)"
    )
    with pytest.raises(AttributeError):
        hit.other = 1  # no stray attributes, as with __slots__


def test_meta_kept_with_the_entry_reads_back_whole():
    c = dejacache.Cache()
    meta = {"latency_s": 0.5, "cost_usd": 0.25, "tokens": 7, "note": {"nested": [1, ',"m":{']}}
    c.put(chat(), {"answer": 1}, meta=meta)
    hit = c.get(chat())
    assert hit.meta == meta
    assert hit.meta is hit.meta  # decoded once
    assert pickle.loads(pickle.dumps(c.get(chat()))).meta == meta


def test_savings_add_up_with_python_types():
    c = dejacache.Cache()
    c.put(chat("a"), {"v": 1}, meta={"latency_s": 1, "cost_usd": 0.1, "tokens": 3})
    c.put(chat("b"), {"v": 2}, meta={"latency_s": 0.5, "tokens": 4})
    for _ in range(3):
        c.get(chat("a"))
    c.call(chat("b"), lambda r: pytest.fail("a hit calls no provider"))
    st = c.stats()
    assert st["tokens_saved"] == 13 and type(st["tokens_saved"]) is int
    assert st["latency_saved_s"] == 3.5 and type(st["latency_saved_s"]) is float
    assert st["cost_saved_usd"] == pytest.approx(0.3)
    ns = st["namespaces"]["default"]
    assert (ns["tokens_saved"], ns["coalesced"], ns["hits"]) == (13, 0, 4)


def test_savings_match_the_python_fold_for_the_same_hits():
    """The same entries read through the Rust hit path and through the careful Python read
    (a key_func cache) count the same savings."""
    metas = [{"latency_s": 0.1 * i, "cost_usd": i, "tokens": i * 2} for i in range(1, 6)]
    fast, careful = dejacache.Cache(), dejacache.Cache(key_func=lambda r: hashlib.md5(orjson.dumps(r)).hexdigest())
    for c in (fast, careful):
        for i, meta in enumerate(metas):
            c.put(chat(f"q{i}"), {"i": i}, meta=meta)
        for _ in range(2):
            for i in range(len(metas)):
                assert c.get(chat(f"q{i}")).response == {"i": i}
    keys = ("latency_saved_s", "cost_saved_usd", "tokens_saved")
    assert [fast.stats()[k] for k in keys] == [careful.stats()[k] for k in keys]


def test_call_marks_a_dict_answer_and_leaves_others():
    c = dejacache.Cache()
    c.put(chat("dict"), {"a": 1, "cache": False})
    c.put(chat("empty"), {})
    c.put(chat("list"), [1, 2])
    c.put(chat("text"), "plain")
    never = lambda r: pytest.fail("a hit calls no provider")  # noqa: E731
    marked = c.call(chat("dict"), never)
    assert marked == {"a": 1, "cache": True} and list(marked) == ["a", "cache"]
    assert c.call(chat("empty"), never) == {"cache": True}
    assert c.call(chat("list"), never) == [1, 2]
    assert c.call(chat("text"), never) == "plain"
    assert c.get(chat("dict")).response == {"a": 1, "cache": False}  # get does not mark


@pytest.mark.parametrize(
    "blob",
    [
        b'{"r":{"a":1},"v":1,"m":{}}',  # another writer's key order
        b'{"v":1,"r":{"a":1},"m":{},"x":2}',  # an extra field
        b'{"v":1,"r":{"a":1},"m":{"tokens":2,"latency_s":1.5}}',  # meta without kept savings
        b'{"v":1, "r":{"a":1}, "m":{}}',  # whitespace
        b'{"v":1,"r":{"a":1},"m":[]}',  # a meta that is not a dict: the answer still counts
    ],
)
def test_envelopes_written_elsewhere_are_read_the_careful_way(blob):
    c = dejacache.Cache()
    _stored_blob(c, chat(), blob)
    assert c.get(chat()).response == {"a": 1}
    assert c.call(chat(), lambda r: pytest.fail("a hit calls no provider")) == {"a": 1, "cache": True}


@pytest.mark.parametrize("blob", [b'{"v":1,"r":{"a":1,},"m":{}}', b'{"v":2,"r":{"a":1},"m":{}}', b"not json"])
def test_unreadable_entries_are_dropped_not_served(blob):
    c = dejacache.Cache()
    _stored_blob(c, chat(), blob)
    assert c.get(chat()) is None
    assert not c.contains(chat())
    assert c.call(chat(), lambda r: {"fresh": 1}) == {"fresh": 1}


def test_acall_and_call_with_controls_serve_the_same_marked_hit():
    c = dejacache.Cache()
    c.put(chat(), {"a": 1}, meta={"tokens": 5})
    never = lambda r: pytest.fail("a hit calls no provider")  # noqa: E731
    assert asyncio.run(c.acall(chat(), never)) == {"a": 1, "cache": True}
    assert c.call(chat(), never, cache={"ttl": 60}) == {"a": 1, "cache": True}  # through _begin
    assert c.stats()["tokens_saved"] == 10


def test_controls_in_the_request_take_the_general_path():
    c = dejacache.Cache()
    c.put(chat(), {"a": 1}, namespace="tenant")
    assert c.get(chat()) is None
    request = {**chat(), "cache": {"namespace": "tenant"}}
    assert c.get(request).response == {"a": 1}
    assert c.call(request, lambda r: pytest.fail("a hit calls no provider")) == {"a": 1, "cache": True}
    assert c.call({**chat(), "caching": False}, lambda r: {"b": 2}) == {"b": 2}


def test_hit_path_direct():
    store, schema = _core.EntryStore(), _core.KeySchema([])
    key = schema.key(chat())
    store.put(key, "ns", encode({"a": 1}, {"tokens": 2}), 10.0, None, {"tokens": 2})
    path = _core.HitPath(store, schema, "ns", lambda: 12.0)
    hit = path.get(chat())
    assert (hit.response, hit.key, hit.age, hit.namespace, hit.meta) == ({"a": 1}, key, 2.0, "ns", {"tokens": 2})
    assert path.call(chat()) == [{"a": 1, "cache": True}]
    assert path.get({**chat("other")}) == schema.key(chat("other"))  # a miss: the key
    assert path.call({**chat(), "cache": {"no-cache": True}}) is None  # controls: the caller's part
    assert path.get([1]) is None
    assert dict(store.stats())["ns"]["tokens_saved"] == 4


_ENVELOPE_PIECES = [
    b'{"v":1,"r":',
    b',"m":',
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b"\\",
    b",",
    b":",
    b"1",
    b'"a"',
    b"null",
    b" ",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    blob=st.one_of(
        st.binary(max_size=64),
        st.lists(st.sampled_from(_ENVELOPE_PIECES), max_size=14).map(b"".join),
        st.builds(
            lambda answer, meta, cut: encode(answer, meta)[:cut] if cut else encode(answer, meta),
            st.recursive(
                st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
                lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
                max_leaves=8,
            ),
            st.dictionaries(st.sampled_from(["tokens", "latency_s", "x"]), st.integers(0, 10**6), max_size=3),
            st.integers(0, 40),
        ),
    )
)
def test_any_stored_bytes_read_as_the_careful_decode_reads_them(blob):
    """Whatever bytes a store holds (another version, a damaged disk, a hostile writer on a
    shared Redis), the Rust hit path serves exactly what the Python decode serves, or a miss,
    and never raises."""
    unreadable = object()
    try:
        expected = decode(blob)[0]
    except ValueError:
        expected = unreadable
    c = dejacache.Cache()
    _stored_blob(c, chat(), blob)
    hit = c.get(chat())
    assert (hit is None) if expected is unreadable else (hit is not None and hit.response == expected)
    _stored_blob(c, chat(), blob)
    answer = c.call(chat(), lambda r: {"fresh": 1})
    if expected is unreadable:
        assert answer == {"fresh": 1}
    else:
        assert answer == ({**expected, "cache": True} if type(expected) is dict else expected)
