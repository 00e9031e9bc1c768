"""Cache(store=URL or object): the exact tier on a persistent store, end to end."""

from __future__ import annotations

import dejacache
import pytest
from dejacache.stores import open_store, resolve_secret, store_kind

REQ = {"model": "m", "messages": [{"role": "user", "content": "What is a cache?"}]}


def test_sqlite_url_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    first = dejacache.Cache(store=url)
    assert first.call(REQ, lambda r: {"a": 1}) == {"a": 1}
    again = dejacache.Cache(store=url)  # another process would see the same file
    hit = again.get(REQ)
    assert hit is not None and hit.response == {"a": 1} and hit.source == "exact"
    assert again.call(REQ, lambda r: {"a": 2}) == {"a": 1, "cache": True}
    stats = again.stats()
    assert stats["hits"] == 2 and stats["store_errors"] == 0 and stats["breaker"] == "closed"


def test_plain_path_and_namespaces_and_delete(tmp_path):
    cache = dejacache.Cache(store=tmp_path / "c.db")
    cache.put(REQ, {"a": "tenant-a"}, namespace="a")
    assert cache.get(REQ, namespace="b") is None
    assert cache.get(REQ, namespace="a").response == {"a": "tenant-a"}
    assert cache.delete(REQ, namespace="a")
    assert cache.get(REQ, namespace="a") is None


def test_memory_l1_in_front_of_sqlite(tmp_path):
    lower = dejacache.Cache(store=f"sqlite:///{tmp_path}/l2.db")
    lower.put(REQ, {"a": "from-l2"})
    l1 = dejacache.Cache(max_entries=10, next_cache=lower)
    assert l1.get(REQ).response == {"a": "from-l2"}
    assert REQ in l1  # promoted into the memory level


def test_a_store_that_fails_is_a_miss_never_an_error(tmp_path):
    class Broken:
        """Every operation of the protocol, each failing as a dead backend would."""

        def _fail(self, *a, **k):
            raise ConnectionError("backend down")

        lookup = get = put = remove = contains = clear = purge_expired = keys = stats = _fail

        def __len__(self):
            raise ConnectionError("backend down")

    from dejacache.stores._guard import GuardedStore

    cache = dejacache.Cache(store=GuardedStore(Broken()))
    calls = []
    assert cache.call(REQ, lambda r: calls.append(1) or {"a": 1}) == {"a": 1}
    assert cache.call(REQ, lambda r: calls.append(1) or {"a": 1}) == {"a": 1}
    assert len(calls) == 2 and cache.get(REQ) is None


def test_urls_and_secrets(monkeypatch, tmp_path):
    assert store_kind("sqlite:///x.db") == store_kind("x.db") == "sqlite"
    assert store_kind("rediss://h:1") == store_kind("redis+cluster://a:1,b:2") == "redis"
    assert store_kind("postgresql://u@h/db") == store_kind("duckdb:///x") == "sql"
    monkeypatch.setenv("DEJA_TEST_URL", f"sqlite:///{tmp_path}/s.db")
    assert resolve_secret("os.environ/DEJA_TEST_URL").endswith("s.db")
    with pytest.raises(ValueError, match="DEJA_MISSING"):
        resolve_secret("os.environ/DEJA_MISSING")
    store = open_store("os.environ/DEJA_TEST_URL")
    assert type(store).__name__ == "SQLiteStore"
    with pytest.raises(TypeError, match="URL"):
        dejacache.Cache(store=42)


def test_yaml_config_names_a_store(monkeypatch, tmp_path):
    monkeypatch.setenv("DEJA_STORE_URL", f"sqlite:///{tmp_path}/y.db")
    config = tmp_path / "cache.yaml"
    config.write_text("store: os.environ/DEJA_STORE_URL\nttl: 60\n")
    assert dejacache.load_config(config) == {"store": "os.environ/DEJA_STORE_URL", "ttl": 60.0}
    dejacache.Cache.from_config(config).put(REQ, {"a": "yaml"})
    assert dejacache.Cache.from_config(config).get(REQ).response == {"a": "yaml"}
    with pytest.raises(dejacache.ConfigError, match="store"):
        dejacache.load_config({"store": 5})
