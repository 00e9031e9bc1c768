"""Bad input gets a clear error and loses nothing stored before."""

import dejacache
import pytest
from conftest import chat


class Opaque:
    pass


@pytest.mark.parametrize(
    "request_, path",
    [
        ({"messages": [{"role": "user", "content": {1, 2}}]}, "messages[0].content"),
        ({"messages": [chat()["messages"][0], {"content": Opaque()}]}, "messages[1].content"),
        ({"tools": [{"fn": print}]}, "tools[0].fn"),
        (Opaque(), "the request itself"),
    ],
)
def test_unsupported_values_name_their_path(request_, path):
    with pytest.raises(TypeError, match=path.replace("[", r"\[").replace("]", r"\]")):
        dejacache.Cache().key(request_)


def test_non_text_dict_keys_are_refused():
    with pytest.raises(TypeError, match="dict key"):
        dejacache.Cache().key({"params": {(1, 2): "x"}})


def test_cyclic_requests_are_refused_not_crashed():
    req = {"messages": []}
    req["messages"].append(req)
    with pytest.raises(ValueError, match="nested more than"):
        dejacache.Cache().key(req)


def test_deep_nesting_is_refused():
    deep = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than"):
        dejacache.Cache().key({"x": deep})


def test_surrogate_strings_raise_a_python_error():
    with pytest.raises(UnicodeEncodeError):
        dejacache.Cache().key({"content": "\ud800"})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_entries": 0}, "max_entries"),
        ({"max_entries": -5}, "max_entries"),
        ({"max_bytes": 0}, "max_bytes"),
        ({"max_entries": 1.5}, "max_entries"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": float("nan")}, "ttl"),
        ({"eviction": "mru"}, "eviction"),
        ({"namespace": ""}, "namespace"),
    ],
)
def test_bad_configuration_says_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dejacache.Cache(**kwargs)


@pytest.mark.parametrize(
    "controls, message",
    [
        ({"cache": {"no-cahce": True}}, "unknown cache control"),
        ({"cache": {"ttl": -3}}, "ttl"),
        ({"cache": {"s-maxage": "soon"}}, "s-maxage"),
        ({"cache": {"no-store": "yes"}}, "no-store"),
        ({"cache": "no-cache"}, "dict of controls"),
        ({"caching": "off"}, "caching"),
        ({"namespace": 7}, "namespace"),
    ],
)
def test_bad_controls_say_what_is_wrong(controls, message):
    c = dejacache.Cache()
    c.put(chat(), {"a": 1})
    with pytest.raises(ValueError, match=message):
        c.get(chat(), **controls)
    assert c.get(chat()).response == {"a": 1}  # nothing stored before was lost


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        dejacache.Cache().get(chat(), no_cache=True)


def test_unstorable_response_is_refused_and_loses_nothing():
    c = dejacache.Cache()
    c.put(chat(), {"a": 1})
    with pytest.raises(TypeError, match="JSON-like"):
        c.put(chat(), Opaque())
    assert c.get(chat()).response == {"a": 1}


def test_call_with_an_uncacheable_request_still_reaches_the_llm():
    c = dejacache.Cache()
    req = {"messages": [{"content": Opaque()}]}
    assert c.call(req, lambda r: "answer") == "answer"
    assert len(c) == 0


def test_call_with_an_unstorable_answer_returns_it_anyway():
    c = dejacache.Cache()
    answer = Opaque()
    assert c.call(chat(), lambda r: answer) is answer
    assert len(c) == 0


def test_corrupt_entry_is_dropped_and_read_as_a_miss():
    c = dejacache.Cache()
    k = c.key(chat())
    c._store.put(k, "default", b"not json", 0.0, None)
    assert c.get(chat()) is None
    assert len(c) == 0


from hypothesis import given, settings  # noqa: E402 - the property tests of this file start here
from hypothesis import strategies as st  # noqa: E402

hostile_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.binary(),
    st.complex_numbers(),
    st.sets(st.integers(), max_size=3),
    st.just(Opaque()),
    st.just(print),
    st.builds(bytearray, st.binary(max_size=4)),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
)
hostile = st.recursive(
    hostile_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(
            st.one_of(st.text(max_size=4), st.integers(), st.booleans(), st.none(), st.floats()), inner, max_size=4
        ),
    ),
    max_leaves=25,
)


@settings(max_examples=500)
@given(hostile)
def test_any_value_gives_a_key_or_a_clean_error(value):
    c = dejacache.Cache()
    c.put(chat(), {"kept": True})
    try:
        k = c.key({"messages": [{"content": value}]})
    except (TypeError, ValueError):
        pass
    else:
        assert len(k) == 32
    assert c.get(chat()).response == {"kept": True}
