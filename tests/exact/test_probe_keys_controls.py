"""Properties of keys and controls (issue 15, "keep finding them").

Keys: two requests share a key exactly when a plain Python canonical form says they are the
same request (key order never matters, 1 equals 1.0, a bool is not an int, a tuple is a list,
excluded parameters do not count); a Mapping request is keyed like the equal dict or refused.
Controls: no input makes them raise anything but ValueError / TypeError, and an answer stored
under one namespace is never served under another.
"""

from __future__ import annotations

import collections
import math
import types

import dejacache
import pytest
from dejacache._controls import EXCLUDED_PARAMS, Controls, parse_controls
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from probe_settings import EXAMPLES

PROBE = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=6), st.binary(max_size=4)
)
values = st.recursive(
    leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=20,
)
requests = st.dictionaries(st.text(max_size=6).filter(lambda k: k not in EXCLUDED_PARAMS), values, max_size=5)


def canon(v):
    """The request as the key should see it."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return ("nan",)
        return ("num", v)  # Python compares 1 == 1.0 and 10**20 == 1e20 exactly
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, bytes):
        return ("bytes", v)
    if v is None:
        return ("none",)
    if isinstance(v, (list, tuple)):
        return ("list", tuple(canon(x) for x in v))
    return ("dict", tuple(sorted((k, canon(x)) for k, x in v.items())))


def variant(draw, v):
    """An equal request written differently: keys reordered, whole floats as ints and back,
    lists as tuples."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, bytes)):
        return v
    if isinstance(v, int):
        return float(v) if abs(v) < 2**53 and draw(st.booleans()) else v
    if isinstance(v, float):
        return int(v) if v.is_integer() and abs(v) < 2**53 and draw(st.booleans()) else v
    if isinstance(v, list):
        out = [variant(draw, x) for x in v]
        return tuple(out) if draw(st.booleans()) else out
    items = [(k, variant(draw, x)) for k, x in v.items()]
    return dict(draw(st.permutations(items)))


def mutant(draw, v):
    """A request that differs in one leaf (a bool for its int, a changed string or number)."""
    if isinstance(v, dict) and v:
        k = draw(st.sampled_from(sorted(v)))
        return {**v, k: mutant(draw, v[k])}
    if isinstance(v, list) and v:
        i = draw(st.integers(0, len(v) - 1))
        return [*v[:i], mutant(draw, v[i]), *v[i + 1 :]]
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
        return v + 1 if abs(v) < 2**52 else -v if v else 1
    if isinstance(v, str):
        return v + "!"
    return {"was": v}


def key_or_error(cache, request):
    try:
        return cache.key(request)
    except (TypeError, ValueError) as exc:
        return type(exc)


@PROBE
@given(st.data(), requests)
def test_equal_requests_share_a_key_and_different_ones_do_not(data, request):
    cache = dejacache.Cache()
    same = variant(data.draw, request)
    assert canon(same) == canon(request)
    assert key_or_error(cache, same) == key_or_error(cache, request)
    other = mutant(data.draw, request)
    if canon(other) != canon(request):
        assert key_or_error(cache, other) != key_or_error(cache, request), (request, other)


@PROBE
@given(requests, st.dictionaries(st.sampled_from(EXCLUDED_PARAMS), values, max_size=3))
def test_excluded_parameters_never_enter_the_key(request, excluded):
    cache = dejacache.Cache()
    assert key_or_error(cache, {**request, **excluded}) == key_or_error(cache, request)


@PROBE
@given(requests, st.sampled_from([collections.OrderedDict, types.MappingProxyType]))
def test_a_mapping_request_is_keyed_like_the_dict_or_refused(request, kind):
    cache = dejacache.Cache()
    got = key_or_error(cache, kind(request))
    assert got == key_or_error(cache, request) or got is TypeError


@PROBE
@given(requests, st.integers(-(2**80), 2**80))
def test_a_bool_never_shares_a_key_with_an_int(request, n):
    cache = dejacache.Cache()
    for b in (True, False):
        assert cache.key({**request, "x": b}) != cache.key({**request, "x": n})


hostile = st.one_of(
    values,
    st.sets(st.integers(), max_size=2),
    st.just(object()),
    st.floats(),
    st.integers(-(10**400), 10**400),
    st.just(10**400),
    st.just(-math.inf),
    st.text(),
)
controls = st.dictionaries(
    st.one_of(
        st.sampled_from(["no-cache", "no_cache", "no-store", "no_store", "ttl", "s-maxage", "s_maxage", "namespace"]),
        st.text(max_size=5),
    ),
    hostile,
    max_size=4,
)
maybe_mapping = st.one_of(
    hostile, controls, controls.map(collections.OrderedDict), controls.map(types.MappingProxyType)
)


@PROBE
@given(
    st.one_of(hostile, st.fixed_dictionaries({}, optional={"cache": maybe_mapping, "caching": hostile})),
    st.one_of(st.none(), hostile),
    st.one_of(st.none(), maybe_mapping),
    st.one_of(st.none(), hostile),
)
def test_parse_controls_raises_only_value_or_type_errors(request, caching, cache, namespace):
    defaults = Controls(True, True, None, None, "default")
    try:
        ctl = parse_controls(request, caching, cache, namespace, defaults)
    except (ValueError, TypeError):
        return
    assert isinstance(ctl.namespace, str) and ctl.namespace
    assert ctl.ttl is None or ctl.ttl >= 0
    assert ctl.max_age is None or ctl.max_age >= 0


namespaces = st.text(min_size=1, max_size=4)
placements = st.sampled_from(["argument", "cache-arg", "in-request", "ordered-dict", "proxy-in-request"])


def placed(request: dict, ns: str, how: str):
    """(request, kwargs) carrying namespace ``ns`` the way ``how`` says."""
    if how == "argument":
        return request, {"namespace": ns}
    if how == "cache-arg":
        return request, {"cache": {"namespace": ns}}
    if how == "in-request":
        return {**request, "cache": {"namespace": ns}}, {}
    if how == "ordered-dict":
        return collections.OrderedDict({**request, "cache": {"namespace": ns}}), {}
    return {**request, "cache": types.MappingProxyType({"namespace": ns})}, {}


@PROBE
@given(requests, namespaces, namespaces, placements, placements, st.booleans())
def test_an_answer_never_crosses_namespaces(request, ns_a, ns_b, put_how, get_how, use_call):
    cache = dejacache.Cache()
    req_a, kw_a = placed(request, ns_a, put_how)
    try:
        cache.key(request)
    except (TypeError, ValueError):
        return
    cache.put(req_a, {"owner": ns_a}, **kw_a)
    req_b, kw_b = placed(request, ns_b, get_how)
    if use_call:
        got = cache.call(req_b, lambda r: {"owner": ns_b, "fresh": True}, **kw_b)
        if ns_a != ns_b:
            assert got == {"owner": ns_b, "fresh": True}
        else:
            assert got == {"owner": ns_a, "cache": True}
    else:
        hit = cache.get(req_b, **kw_b)
        if ns_a != ns_b:
            assert hit is None
        else:
            assert hit is not None and hit.response == {"owner": ns_a} and hit.namespace == ns_a


@pytest.mark.parametrize("kind", [collections.OrderedDict, types.MappingProxyType])
def test_the_in_request_namespace_of_a_mapping_is_honoured(kind):
    # The fixed case behind the property above (issue 15, item 4).
    cache = dejacache.Cache()
    cache.put(collections.OrderedDict({"q": 1, "cache": kind({"namespace": "b"})}), {"owner": "b"})
    assert cache.get({"q": 1}) is None
