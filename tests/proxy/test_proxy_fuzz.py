"""The HTTP surface, fuzzed from the proxy's own OpenAPI document: every route and method it
lists, with bodies that are random JSON, JSON shaped like what the route reads, or not JSON
at all, and random Cache-Control headers. No answer is a 500 and none hangs.

(Hypothesis drives the requests; schemathesis, which the issue names, is not a dependency of
this project: this test reads the same document and asks the same question of it.)
"""

from __future__ import annotations

import os

import httpx
import pytest
from dejacache.proxy._openapi import document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .proxy_helpers import model_list

EXAMPLES = int(os.environ.get("DEJACACHE_PROBE_EXAMPLES", "150"))
MASTER = "sk-fuzz-master"

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# models the fake provider answers normally (its error-/slow-/stream- names misbehave on purpose)
models = st.sampled_from(["gpt-4o", "mini", "claude-x", "text-embedding-3-small", "nope"]) | st.text(
    max_size=12
).filter(lambda m: not m.startswith(("error-", "slow", "stream-")))
controls = st.dictionaries(
    st.sampled_from(["no-cache", "no-store", "ttl", "s-maxage", "namespace", "use-cache", "bogus", "no_cache"]),
    scalars,
    max_size=3,
)
shaped = st.fixed_dictionaries(
    {"model": models},
    optional={
        "messages": st.lists(
            st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "x"]), "content": json_values}),
            max_size=3,
        )
        | json_values,
        "input": json_values,
        "prompt": json_values,
        "max_tokens": scalars,
        "stream": st.booleans() | scalars,
        "cache": controls | json_values,
        "caching": scalars,
        "namespace": json_values,
        "keys": json_values,
        "controls": json_values,
    },
)
bodies = (
    shaped.map(lambda d: ("json", d))
    | json_values.map(lambda d: ("json", d))
    | st.binary(max_size=64).map(lambda b: ("raw", b))
)
cache_control = st.none() | st.sampled_from(
    ["no-cache", "no-store", "max-age=0", "max-age=nan", "max-age=-1", "max-age=x", "no-cache, max-age=5"]
)
ROUTES = [(path, method.upper()) for path, ops in document()["paths"].items() for method in ops]


@pytest.fixture(scope="module")
def fuzz_proxy(make_proxy, upstream):
    proxy = make_proxy(
        {
            "model_list": model_list(upstream.url),
            "general_settings": {"master_key": MASTER},
            "server": {"max_body_bytes": 4096, "upstream_timeout": 5},
        }
    )
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        yield client


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    route=st.sampled_from(ROUTES), body=bodies, header=cache_control, auth=st.sampled_from([MASTER, None, "sk-wrong"])
)
def test_no_route_answers_500_or_hangs(fuzz_proxy, route, body, header, auth):
    path, method = route
    headers = {}
    if auth:
        headers["authorization"] = f"Bearer {auth}"
    if header:
        headers["cache-control"] = header
    kind, payload = body
    if method == "GET":
        r = fuzz_proxy.get(path, headers=headers)
    elif kind == "json":
        try:
            r = fuzz_proxy.post(path, json=payload, headers=headers)
        except ValueError:  # NaN and friends: not JSON, send them as bytes
            r = fuzz_proxy.post(path, content=repr(payload).encode(), headers=headers)
    else:
        r = fuzz_proxy.post(path, content=payload, headers=headers)
    assert r.status_code < 500 or r.status_code in (502, 504), (path, body, r.status_code, r.text[:300])
    if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
        doc = r.json()
        assert "error" in doc, doc
