"""The canonical request key: order-independent, value-sensitive, JSON-equal numbers equal."""

import math

import dejacache
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

cache = dejacache.Cache()
key = cache.key

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=20,
)


def reorder(v):
    if isinstance(v, dict):
        return {k: reorder(v[k]) for k in reversed(list(v))}
    if isinstance(v, list):
        return [reorder(x) for x in v]
    return v


@settings(max_examples=300)
@given(json_value)
def test_key_order_never_matters(v):
    assert key({"model": "m", "x": v}) == key({"x": reorder(v), "model": "m"})


@settings(max_examples=300)
@given(json_value, json_value)
def test_different_values_give_different_keys(a, b):
    def canon(v):  # what JSON equality means, with bools kept apart from numbers
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return (type(v).__name__, v)
        if isinstance(v, (int, float)):
            return ("num", float(v) if isinstance(v, float) and not v.is_integer() else int(v))
        if isinstance(v, list):
            return ("list", tuple(canon(x) for x in v))
        return ("dict", tuple(sorted((k, canon(x)) for k, x in v.items())))

    same = canon(a) == canon(b)
    assert (key({"p": a}) == key({"p": b})) == same


@settings(max_examples=200)
@given(st.text(max_size=40), st.text(max_size=40))
def test_every_message_character_counts(a, b):
    assert (key({"messages": [{"content": a}]}) == key({"messages": [{"content": b}]})) == (a == b)


@pytest.mark.parametrize(
    "a, b",
    [
        (1, 1.0),
        (0, -0.0),
        (10**20, 1e20),
        ((1, 2), [1, 2]),
    ],
)
def test_json_equal_values_share_a_key(a, b):
    assert key({"v": a}) == key({"v": b})


@pytest.mark.parametrize(
    "a, b",
    [
        (1, True),
        (0, False),
        (0, None),
        ("1", 1),
        (0.1, 0.10000000000000002),
        (b"x", "x"),
        ([], {}),
        ([["a", "b"]], [["ab"]]),
        (2**63, 2**63 + 1),
    ],
)
def test_different_values_never_share_a_key(a, b):
    assert key({"v": a}) != key({"v": b})


@pytest.mark.parametrize("param", ["model", "temperature", "tools", "seed", "response_format", "top_p", "user"])
def test_answer_changing_parameters_are_in_the_key(param):
    base = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
    assert key(base) != key({**base, param: "changed"})


@pytest.mark.parametrize("param", dejacache.EXCLUDED_PARAMS)
def test_excluded_parameters_stay_out_of_the_key(param):
    base = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
    value = {"no-cache": True} if param == "cache" else True
    assert key(base) == key({**base, param: value})


def test_exclusions_apply_only_at_top_level():
    assert key({"tools": [{"stream": 1}]}) != key({"tools": [{}]})


def test_int_dict_keys_read_as_json_strings():
    assert key({"logit_bias": {50256: -100}}) == key({"logit_bias": {"50256": -100}})


def test_nan_and_infinities_are_stable_and_distinct():
    assert key({"t": math.nan}) == key({"t": float("nan")})
    assert key({"t": math.inf}) != key({"t": -math.inf})


def test_key_is_32_hex_digits():
    k = key({"model": "m"})
    assert len(k) == 32 and int(k, 16) >= 0


def test_key_schema_version_is_exposed():
    assert dejacache._core.KEY_SCHEMA_VERSION >= 1


def test_custom_key_function_replaces_the_canonical_key():
    c = dejacache.Cache(key_func=lambda r: r["messages"][-1]["content"].lower())
    c.put({"messages": [{"content": "Hello"}]}, {"a": 1})
    hit = c.get({"messages": [{"content": "HELLO"}], "model": "other"})
    assert hit is not None and hit.key == "hello" and hit.response == {"a": 1}


def test_custom_key_function_must_return_text():
    c = dejacache.Cache(key_func=lambda r: 42)
    with pytest.raises(TypeError, match="key_func must return a non-empty str"):
        c.key({})
