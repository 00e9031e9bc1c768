"""Slice 3: the proxy's config (LiteLLM config.yaml, native cache:, none) and `dejacache serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import httpx
import pytest
from dejacache import ConfigError
from dejacache.proxy import load_proxy_config

from .proxy_helpers import client_of_worker, free_port, metric_value, wait_healthy

LITELLM_YAML = """
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:9/v1
      api_key: os.environ/DEJACACHE_TEST_UPSTREAM_KEY
  - model_name: claude-sonnet
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: os.environ/DEJACACHE_TEST_UPSTREAM_KEY
    model_info:
      team: research
litellm_settings:
  cache: true
  cache_params:
    type: redis
    host: cache.internal
    port: 6380
    password: os.environ/DEJACACHE_TEST_REDIS_PASSWORD
    ttl: 600
    namespace: prod
    supported_call_types: [acompletion, aembedding]
general_settings:
  master_key: os.environ/DEJACACHE_TEST_MASTER
"""


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("DEJACACHE_TEST_UPSTREAM_KEY", "sk-up")
    monkeypatch.setenv("DEJACACHE_TEST_REDIS_PASSWORD", "p@ss:w/rd")
    monkeypatch.setenv("DEJACACHE_TEST_MASTER", "sk-master")


def write(tmp_path, text: str) -> str:
    path = tmp_path / "proxy.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_a_litellm_config_loads_unchanged(tmp_path, env):
    cfg = load_proxy_config(write(tmp_path, LITELLM_YAML))
    mini, claude = cfg.models
    assert (mini.name, mini.provider, mini.model, mini.api_base) == (
        "gpt-4o-mini",
        "openai",
        "gpt-4o-mini",
        "http://127.0.0.1:9/v1",
    )
    assert mini.api_key == "sk-up" and "sk-up" not in repr(mini)
    assert claude.provider == "anthropic" and claude.api_base == "https://api.anthropic.com"
    assert claude.info == {"team": "research"}
    assert cfg.cache_kwargs["store"] == "redis://:p%40ss%3Aw%2Frd@cache.internal:6380/0"
    assert cfg.cache_kwargs["ttl"] == 600 and cfg.cache_kwargs["namespace"] == "prod"
    assert cfg.cached_routes == {"chat", "embeddings"}
    assert cfg.master_key == "sk-master" and "sk-master" not in repr(cfg)


def test_litellm_cache_types(tmp_path):
    local = load_proxy_config(
        {"litellm_settings": {"cache": True, "cache_params": {"type": "local", "mode": "default_off"}}}
    )
    assert local.cache_kwargs == {"opt_in": True} and local.store_url is None
    semantic = load_proxy_config(
        {"litellm_settings": {"cache": True, "cache_params": {"type": "redis-semantic", "similarity_threshold": 0.9}}}
    )
    assert semantic.cache_kwargs["store"] == "redis://127.0.0.1:6379/0"
    assert semantic.cache_kwargs["semantic"].threshold == 0.9
    # the vectors go to the same Redis (its search module), shared by every worker
    assert semantic.cache_kwargs["semantic"].vector_store == "redis://127.0.0.1:6379/0"
    qdrant = load_proxy_config(
        {
            "litellm_settings": {
                "cache": True,
                "cache_params": {
                    "type": "qdrant-semantic",
                    "qdrant_api_base": "https://vectors.example:6333/",
                    "similarity_threshold": 0.93,
                },
            }
        }
    )
    assert qdrant.cache_kwargs["semantic"].vector_store == "qdrants://vectors.example:6333"
    assert qdrant.cache_kwargs["semantic"].threshold == 0.93
    with pytest.raises(ConfigError, match="qdrant_api_base must be http"):
        load_proxy_config(
            {"litellm_settings": {"cache": True, "cache_params": {"type": "qdrant-semantic", "qdrant_api_base": "x"}}}
        )
    disk = load_proxy_config(
        {"litellm_settings": {"cache": True, "cache_params": {"type": "disk", "disk_cache_dir": str(tmp_path)}}}
    )
    assert disk.store_url == f"sqlite:///{tmp_path}/dejacache.db"
    for kind in ("s3", "redis-cluster"):
        with pytest.raises(ConfigError, match=f"'{kind}' is not supported by dejacache yet; use local, redis"):
            load_proxy_config({"litellm_settings": {"cache": True, "cache_params": {"type": kind}}})


def test_native_cache_section_and_server_settings(tmp_path):
    cfg = load_proxy_config(
        {
            "cache": {"store": f"sqlite:///{tmp_path}/c.db", "ttl": 60, "semantic": {"embedder": "hashing"}},
            "server": {"max_body_bytes": 1000, "upstream_timeout": 5},
        }
    )
    assert cfg.store_url == f"sqlite:///{tmp_path}/c.db" and cfg.cache_kwargs["ttl"] == 60
    assert cfg.max_body_bytes == 1000 and cfg.upstream_timeout == 5
    with pytest.raises(ConfigError, match="either as litellm_settings.cache_params or as cache:"):
        load_proxy_config({"cache": {}, "litellm_settings": {"cache": True}})


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"model_lsit": []}, "unknown key 'model_lsit'; allowed: model_list, litellm_settings"),
        (
            {"model_list": [{"model_name": "x", "litellm_params": {"model": "openai/x", "rpm": 5}}]},
            "unknown key 'rpm'; allowed: model, api_base, api_key, timeout",
        ),
        ({"model_list": [{"model_name": "x", "litellm_params": {"model": "gpt-4o"}}]}, "provider/model"),
        (
            {"model_list": [{"model_name": "x", "litellm_params": {"model": "vertex_ai/gemini"}}]},
            "'vertex_ai' is not supported by dejacache serve yet; supported: openai, anthropic",
        ),
        ({"litellm_settings": {"set_verbose": True}}, "unknown key 'set_verbose'; allowed: cache, cache_params"),
        ({"litellm_settings": {"cache": True, "cache_params": {"type": "redis", "hots": "x"}}}, "unknown key 'hots'"),
        ({"general_settings": {"database_url": "x"}}, "unknown key 'database_url'; allowed: master_key"),
        ({"cache": {"stroe": "x"}}, "unknown setting 'stroe'"),
        ({"general_settings": {"master_key": "os.environ/DEJACACHE_TEST_UNSET_VAR"}}, "DEJACACHE_TEST_UNSET_VAR"),
    ],
)
def test_unknown_or_bad_keys_say_what_is_allowed(doc, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_proxy_config(doc)


def test_litellm_general_settings_and_environment_variables(monkeypatch):
    monkeypatch.delenv("DEJACACHE_TEST_FROM_CONFIG", raising=False)
    cfg = load_proxy_config(
        {
            "environment_variables": {"DEJACACHE_TEST_FROM_CONFIG": "sk-env"},
            "model_list": [
                {
                    "model_name": "m",
                    "litellm_params": {"model": "openai/m", "api_key": "os.environ/DEJACACHE_TEST_FROM_CONFIG"},
                }
            ],
            "general_settings": {"max_request_size_mb": 0.5},
            "litellm_settings": {"request_timeout": 12},
        }
    )
    assert cfg.models[0].api_key == "sk-env" and cfg.max_body_bytes == 512 * 1024 and cfg.upstream_timeout == 12
    monkeypatch.delenv("DEJACACHE_TEST_FROM_CONFIG")


def test_no_config_is_the_documented_default(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1234/v1/")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    cfg = load_proxy_config(None)
    assert cfg.cache_kwargs == {} and cfg.master_key is None and cfg.store_url is None
    openai_route = cfg.route("anything", "openai")
    assert openai_route.api_base == "http://127.0.0.1:1234/v1" and openai_route.api_key is None
    assert openai_route.upstream_model("anything") == "anything"
    assert cfg.route("claude-x", "anthropic").api_key == "sk-ant"


def test_serve_refuses_a_bad_config_before_starting(tmp_path, capsys):
    from dejacache.cli import main

    assert main(["serve", "--config", write(tmp_path, "general_settings: {nope: 1}\n")]) == 2
    assert "unknown key 'nope'; allowed: master_key" in capsys.readouterr().err


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request, tmp_path):
    """The cache part of a config shared by workers: dejacache's native SQLite store, or
    LiteLLM's redis cache_params on a real redis-server."""
    if request.param == "sqlite":
        yield f"cache:\n  store: sqlite:///{tmp_path}/shared.db\n"
        return
    pytest.importorskip("redis")
    from stores.redis.servers import REDIS_SERVER, RedisServer, need

    need(REDIS_SERVER, "redis-server")
    server = RedisServer(tmp_path / "redis")
    yield f"litellm_settings:\n  cache: true\n  cache_params: {{type: redis, host: 127.0.0.1, port: {server.port}}}\n"
    server.stop()


def test_two_workers_share_one_store(tmp_path, upstream, shared_store):
    config = write(
        tmp_path,
        f"""
        model_list:
          - model_name: "*"
            litellm_params: {{model: openai/*, api_base: "{upstream.url}/v1"}}
        general_settings: {{master_key: sk-workers-master}}
        """,
    )
    with open(config, "a") as f:
        f.write(shared_store)
    master = {"authorization": "Bearer sk-workers-master"}
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dejacache.cli", "serve", "--config", config, "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        one, pid_one = client_of_worker(url, None, 10)
        two, pid_two = client_of_worker(url, pid_one, 10)
        # a virtual key made through one worker works through the other; revoked, it fails on both
        key = one.post("/key/generate", json={"namespace": "team"}, headers=master).json()["key"]
        tenant = {"authorization": f"Bearer {key}"}
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"shared across workers {tmp_path.name}"}]}
        before = upstream.total()
        miss = one.post("/v1/chat/completions", json=body, headers=tenant)
        hit = two.post("/v1/chat/completions", json=body, headers=tenant)
        assert pid_one != pid_two
        assert miss.headers["x-dejacache"] == "miss" and hit.headers["x-dejacache"] == "exact"
        assert hit.json() == miss.json() and upstream.total() - before == 1
        # identical misses arriving at both workers at once make one upstream call (a lock in
        # the shared store); the worker that waited answers with the leader's stored answer
        slow = {"model": "slow", "messages": [{"role": "user", "content": f"one call for all {tmp_path.name}"}]}
        delay, upstream.delay = upstream.delay, 1.0
        before = upstream.total()
        answers: list[httpx.Response] = []
        racers = [
            threading.Thread(
                target=lambda c=c: answers.append(c.post("/v1/chat/completions", json=slow, headers=tenant))
            )
            for c in (one, two)
        ]
        try:
            for t in racers:
                t.start()
            for t in racers:
                t.join(30)
        finally:
            upstream.delay = delay
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[0].json()["choices"] == answers[1].json()["choices"]
        assert upstream.total() - before == 1
        assert two.post("/key/delete", json={"keys": [key]}, headers=master).json()["deleted_keys"] == [key]
        assert one.post("/v1/chat/completions", json=body, headers=tenant).status_code == 401
        # /metrics adds up every worker's counts, whichever worker the scrape reaches: the two
        # answered 4 chat requests with 200 and 1 with 401 between them
        for client in (one, two):
            scraped = client.get("/metrics").text
            answered = [
                metric_value(scraped, "dejacache_proxy_requests_total", route="chat", status=s) for s in ("200", "401")
            ]
            assert answered == [4, 1], scraped
        one.close(), two.close()
    finally:
        proc.terminate()
        proc.wait(15)
