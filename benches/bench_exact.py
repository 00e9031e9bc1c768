"""Exact cache: hit latency through Cache.get and key cost, against named peers in one run.

Peers: a plain-Python baseline (dict + json.dumps(sort_keys=True) + sha256, the usual
hand-written cache), GPTCache's map (exact) cache through its api.get, and LiteLLM's in-memory
cache (``litellm.Cache(type="local")``: get_cache_key and get_cache). Peers that are not
installed are skipped.

    pip install . pytest-benchmark gptcache litellm
    pytest benches/bench_exact.py --benchmark-only
"""

import hashlib
import json

import dejacache
import pytest


def chat_request(size: int) -> dict:
    """An OpenAI-style chat request of about `size` bytes as JSON."""
    req = {
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_tokens": 256,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": ""}],
    }
    pad = size - len(json.dumps(req))
    req["messages"][1]["content"] = ("Explain caching. " * (pad // 17 + 1))[: max(pad, 1)]
    return req


REQ_1K = chat_request(1_000)
REQ_300 = chat_request(300)
REQ_100K = chat_request(100_000)
RESPONSE = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Caching keeps answers. " * 20},
        }
    ],
    "usage": {"prompt_tokens": 200, "completion_tokens": 100, "total_tokens": 300},
}


class PlainPythonCache:
    """The baseline a team writes by hand."""

    def __init__(self):
        self.data = {}

    @staticmethod
    def key(req):
        return hashlib.sha256(json.dumps(req, sort_keys=True).encode()).hexdigest()

    def put(self, req, resp):
        self.data[self.key(req)] = json.dumps(resp)

    def get(self, req):
        blob = self.data.get(self.key(req))
        return None if blob is None else json.loads(blob)


# -- hit through get -------------------------------------------------------------------------


@pytest.mark.benchmark(group="hit: get of a 1 KB chat request")
def test_dejacache_get_hit(benchmark):
    cache = dejacache.Cache()
    cache.put(REQ_1K, RESPONSE)
    hit = benchmark(cache.get, REQ_1K)
    assert hit.response == RESPONSE


@pytest.mark.benchmark(group="hit: get of a 1 KB chat request")
def test_plain_python_get_hit(benchmark):
    cache = PlainPythonCache()
    cache.put(REQ_1K, RESPONSE)
    assert benchmark(cache.get, REQ_1K) == RESPONSE


@pytest.mark.benchmark(group="hit: get of a 1 KB chat request")
def test_gptcache_map_get_hit(benchmark, tmp_path):
    pytest.importorskip("gptcache")
    from gptcache import Cache as GPTCache
    from gptcache.adapter.api import get, put
    from gptcache.manager.factory import manager_factory
    from gptcache.processor.pre import get_prompt

    gc = GPTCache()
    gc.init(pre_embedding_func=get_prompt, data_manager=manager_factory("map", data_dir=str(tmp_path)))
    prompt = json.dumps(REQ_1K)  # GPTCache's map cache keys on a prompt string
    put(prompt, json.dumps(RESPONSE), cache_obj=gc)
    assert json.loads(benchmark(get, prompt, cache_obj=gc)) == RESPONSE


@pytest.mark.benchmark(group="hit: get of a 1 KB chat request")
def test_litellm_local_get_cache_hit(benchmark):
    pytest.importorskip("litellm")
    from litellm.caching.caching import Cache as LiteLLMCache

    lc = LiteLLMCache(type="local")
    lc.add_cache(RESPONSE, **REQ_1K)
    assert benchmark(lambda: lc.get_cache(**REQ_1K)) is not None


# -- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size, req", [("0.3 KB", REQ_300), ("100 KB", REQ_100K)])
def test_dejacache_key(benchmark, size, req):
    benchmark.group = f"key of a {size} request"
    assert len(benchmark(dejacache.Cache().key, req)) == 32


@pytest.mark.parametrize("size, req", [("0.3 KB", REQ_300), ("100 KB", REQ_100K)])
def test_plain_python_key(benchmark, size, req):
    benchmark.group = f"key of a {size} request"
    assert len(benchmark(PlainPythonCache.key, req)) == 64


@pytest.mark.parametrize("size, req", [("0.3 KB", REQ_300), ("100 KB", REQ_100K)])
def test_litellm_get_cache_key(benchmark, size, req):
    pytest.importorskip("litellm")
    from litellm.caching.caching import Cache as LiteLLMCache

    benchmark.group = f"key of a {size} request"
    lc = LiteLLMCache(type="local")
    assert benchmark(lambda: lc.get_cache_key(**req))


# -- put: a response with nulls is walked for NaN / infinity (orjson writes them as null) ----

RESPONSE_NULLS = {
    **RESPONSE,
    "system_fingerprint": None,
    "service_tier": None,
    "choices": [
        {
            **RESPONSE["choices"][0],
            "logprobs": None,
            "message": {**RESPONSE["choices"][0]["message"], "refusal": None, "tool_calls": None},
        }
    ],
}
RESPONSE_LOGPROBS = {
    **RESPONSE_NULLS,
    "choices": [
        {
            **RESPONSE_NULLS["choices"][0],
            "logprobs": {
                "content": [
                    {
                        "token": "a",
                        "logprob": -0.5,
                        "bytes": [97],
                        "top_logprobs": [{"token": "b", "logprob": -1.5, "bytes": None}] * 5,
                    }
                    for _ in range(200)
                ]
            },
        }
    ],
}


@pytest.mark.benchmark(group="put of a 1 KB chat request")
@pytest.mark.parametrize(
    "name, response", [("no nulls", RESPONSE), ("nulls", RESPONSE_NULLS), ("nulls, 200 logprobs", RESPONSE_LOGPROBS)]
)
def test_dejacache_put(benchmark, name, response):
    cache = dejacache.Cache()
    benchmark(cache.put, REQ_1K, response)
    assert cache.get(REQ_1K).response == response


@pytest.mark.benchmark(group="put of a 1 KB chat request")
def test_plain_python_put(benchmark):
    cache = PlainPythonCache()
    benchmark(cache.put, REQ_1K, RESPONSE_NULLS)
