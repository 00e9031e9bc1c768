"""RedisStore passes the store behaviour suite on a standalone server, with a password and an ACL
user, over TLS with client certificates, and on a 3-master Cluster; Sentinel answers too."""

from __future__ import annotations

import asyncio
import logging

import pytest

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

from dejacache import _core  # noqa: E402
from dejacache.stores._redis import RedisStore  # noqa: E402

from ..store_suite import T0, StoreBehaviour, k  # noqa: E402
from .conftest import ACL_PASSWORD, ACL_USER, NOSCRIPT_PASSWORD, NOSCRIPT_USER, PASSWORD  # noqa: E402


def _factory(url, flush, **options):
    made = []

    def make(max_entries=None, max_bytes=None, default_ttl=None, eviction="lru"):
        flush()
        store = RedisStore.from_url(
            url, max_entries=max_entries, max_bytes=max_bytes, default_ttl=default_ttl, eviction=eviction, **options
        )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


class RedisCaps:
    """Redis cannot cap a count of keys (its maxmemory policy bounds memory): the suite's cap
    tests are replaced by the documented behaviour."""

    def test_max_entries_evicts(self, make_store):
        with pytest.raises(ValueError, match="maxmemory"):
            make_store(max_entries=3)

    def test_max_bytes_rejects_oversized_and_evicts(self, make_store):
        store = make_store(max_bytes=100)
        assert store.put(k(1), "default", b"x" * 101, T0) == (False, 0)
        assert store.put(k(2), "default", b"x" * 100, T0) == (True, 0)
        assert store.put_many([(k(3), "default", b"y" * 101, None), (k(4), "default", b"z", None)], T0) == 1
        assert store.get(k(1), "default", T0) is None and store.get(k(3), "default", T0) is None
        assert store.get(k(2), "default", T0) == (b"x" * 100, T0)


class TestStandalone(RedisCaps, StoreBehaviour):
    @pytest.fixture
    def make_store(self, standalone):
        yield from _factory(f"redis://127.0.0.1:{standalone.port}/0", lambda: standalone.cli("flushall"))

    def test_namespace_forging(self, make_store):
        store = make_store()
        names = ["a", "a:b", "a:", ":a", "a*", "*", "a{b}", "{a}", "a%3Ab", "a%", "[a]", "a?", "", "a\\:b", "é:ü"]
        for i, ns in enumerate(names):
            store.put(k(1), ns, b"%d" % i, T0)
        for i, ns in enumerate(names):
            assert store.get(k(1), ns, T0) == (b"%d" % i, T0), ns
            assert store.keys(ns) == [k(1)]
        assert store.clear("*") == 1 and store.clear("a") == 1
        assert store.get(k(1), "a*", T0) == (b"4", T0) and store.get(k(1), "a:b", T0) == (b"1", T0)
        stats = dict(store.stats())
        assert set(stats) == set(names) and stats["a:b"]["entries"] == 1 and stats["*"]["entries"] == 0

    def test_keys_are_the_documented_layout(self, make_store, standalone):
        store = make_store()
        store.put(k(7), "t:1", b"v", T0, 60)
        raw = standalone.cli("--scan")
        assert raw.split() == [f"dejacache:{_core.KEY_SCHEMA_VERSION}:t%3A1:{{{k(7)}}}"]
        assert 0 < int(standalone.cli("pttl", raw.split()[0])) <= 60_000  # server-side expiry too

    def test_bad_url_and_options_say_what_to_do(self):
        with pytest.raises(ValueError, match="redis://host:port"):
            RedisStore.from_url("http://user:pw@127.0.0.1:1")
        with pytest.raises(ValueError, match="rediss://"):
            RedisStore.from_url("redis://127.0.0.1:1", ssl_ca_certs="/x")
        with pytest.raises(ValueError, match="service"):
            RedisStore.from_url("redis+sentinel://127.0.0.1:1")

    def test_async_twins(self, make_store):
        store = make_store()
        schema = _core.KeySchema([])
        request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

        async def run():
            key, value, _ = await store.alookup(schema, request, "ns", T0)
            assert value is None
            assert await store.aput(key, "ns", b"answer", T0, 30) == (True, 0)
            assert await store.alookup(schema, request, "ns", T0 + 1) == (key, b"answer", T0)
            assert await store.aget(key, "ns", T0 + 31) is None
            await store.aclose()
            return key

        key = asyncio.run(run())
        assert asyncio.run(store.aget(key, "ns", T0)) == (b"answer", T0)  # a second event loop works
        assert store.get(key, "ns", T0) == (b"answer", T0)

    def test_put_many_survives_a_script_flush(self, make_store, standalone):
        store = make_store()
        assert store.put_many([(k(1), "ns", b"a", None)], T0) == 1
        standalone.cli("script", "flush")
        assert store.put_many([(k(2), "ns", b"b", 5.0)], T0) == 1
        assert store.get(k(2), "ns", T0) == (b"b", T0)
        assert 0 < int(standalone.cli("pttl", store._key(k(2), "ns"))) <= 5000
        assert store.put_many([(k(i), "big", b"v", None) for i in range(2500)], T0) == 2500  # 3 batches
        assert len(store.keys("big")) == 2500

    def test_put_many_keeps_the_last_of_duplicates_across_namespaces(self, make_store):
        store = make_store()
        items = [(k(i % 7), f"ns{i % 3}", b"%d" % i, 60.0 if i % 2 else None) for i in range(50)]
        assert store.put_many(items, T0) == 50
        expected = {}
        for key, ns, value, _ in items:
            expected[(ns, key)] = value
        for (ns, key), value in expected.items():
            assert store.get(key, ns, T0) == (value, T0)
        assert len(store) == len(expected)


class TestAcl(RedisCaps, StoreBehaviour):
    @pytest.fixture
    def make_store(self, acl_server):
        yield from _factory(
            f"redis://{ACL_USER}:{ACL_PASSWORD}@127.0.0.1:{acl_server.port}/0", lambda: acl_server.cli("flushall")
        )

    def test_requirepass_url(self, acl_server):
        store = RedisStore.from_url(f"redis://:{PASSWORD}@127.0.0.1:{acl_server.port}/0")
        assert store.put(k(1), "d", b"v", T0) == (True, 0) and store.get(k(1), "d", T0) == (b"v", T0)
        store.close()

    def test_put_many_without_scripting_falls_back_to_a_pipeline(self, acl_server):
        store = RedisStore.from_url(f"redis://{NOSCRIPT_USER}:{NOSCRIPT_PASSWORD}@127.0.0.1:{acl_server.port}/0")
        assert store.put_many([(k(i), "ns", b"%d" % i, 60.0 if i % 2 else None) for i in range(10)], T0) == 10
        assert not store._use_script
        assert store.put_many([(k(1), "ns", b"again", None)], T0) == 1
        assert store.get(k(1), "ns", T0) == (b"again", T0) and store.get(k(2), "ns", T0) == (b"2", T0)
        store.close()

    def test_passwords_never_shown(self, acl_server, caplog):
        from dejacache.stores._guard import GuardedStore

        url = f"redis://{ACL_USER}:{ACL_PASSWORD}@127.0.0.1:{acl_server.port}/0"
        store = RedisStore.from_url(url)
        wrong = RedisStore.from_url(f"redis://{ACL_USER}:wrong-{ACL_PASSWORD}@127.0.0.1:{acl_server.port}/0")
        texts = [repr(store), str(store.stats()), repr(wrong)]
        with pytest.raises(Exception) as info:
            wrong.get(k(1), "d", T0)
        texts += [str(info.value), repr(info.value)]
        with caplog.at_level(logging.DEBUG):
            guarded = GuardedStore(wrong, failures_to_open=1)
            assert guarded.get(k(1), "d", T0) is None and guarded.breaker == "open"
            texts.append(repr(guarded))
        texts += [r.getMessage() for r in caplog.records]
        assert any("open" in t or "failing" in t for t in texts)
        for text in texts:
            assert ACL_PASSWORD not in text and PASSWORD not in text
        assert "***" in repr(store)
        store.close()
        wrong.close()


class TestTls(RedisCaps, StoreBehaviour):
    @pytest.fixture
    def make_store(self, tls_server, certs):
        yield from _factory(
            f"rediss://127.0.0.1:{tls_server.port}/0",
            lambda: tls_server.cli("flushall"),
            ssl_ca_certs=certs["ca"],
            ssl_certfile=certs["client_cert"],
            ssl_keyfile=certs["client_key"],
            ssl_cert_reqs="required",
            ssl_check_hostname=True,
        )

    def test_a_client_without_a_certificate_is_refused(self, tls_server, certs):
        store = RedisStore.from_url(f"rediss://127.0.0.1:{tls_server.port}/0", ssl_ca_certs=certs["ca"])
        with pytest.raises(Exception):
            store.put(k(1), "d", b"v", T0)
        store.close()

    def test_an_unknown_ca_is_refused(self, tls_server, certs):
        store = RedisStore.from_url(
            f"rediss://127.0.0.1:{tls_server.port}/0",
            ssl_certfile=certs["client_cert"],
            ssl_keyfile=certs["client_key"],
            ssl_cert_reqs="required",
        )
        with pytest.raises(Exception):
            store.put(k(1), "d", b"v", T0)
        store.close()


def _flush_cluster(nodes):
    for n in nodes:
        n.cli("flushall")


class TestCluster(RedisCaps, StoreBehaviour):
    @pytest.fixture
    def make_store(self, cluster):
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in cluster)
        yield from _factory(f"redis+cluster://{hosts}", lambda: _flush_cluster(cluster))

    def test_entries_spread_over_every_master_and_clear_reaches_them_all(self, make_store, cluster):
        store = make_store()
        store.put_many([(k(i), "spread", b"v", None) for i in range(300)] + [(k(1), "other", b"o", None)], T0)
        per_node = [int(n.cli("dbsize")) for n in cluster]
        assert all(n > 50 for n in per_node), per_node
        assert store.clear("spread") == 300
        assert [int(n.cli("dbsize")) for n in cluster] and len(store) == 1
        assert store.get(k(1), "other", T0) == (b"o", T0)

    def test_async_twins_on_a_cluster(self, make_store):
        store = make_store()

        async def run():
            assert await store.aput(k(3), "ns", b"v", T0, 30) == (True, 0)
            assert await store.aget(k(3), "ns", T0) == (b"v", T0)
            await store.aclose()

        asyncio.run(run())

    def test_startup_nodes_option(self, cluster):
        store = RedisStore.from_url("redis+cluster://", startup_nodes=[("127.0.0.1", cluster[1].port)])
        assert store.put(k(1), "d", b"v", T0) == (True, 0) and store.get(k(1), "d", T0) == (b"v", T0)
        store.close()


def test_sentinel_finds_the_master(sentinel):
    master, sentinel_server = sentinel
    store = RedisStore.from_url(f"redis+sentinel://127.0.0.1:{sentinel_server.port}/mymaster/0")
    assert store.put(k(1), "d", b"v", T0) == (True, 0)
    assert store.get(k(1), "d", T0) == (b"v", T0)
    assert "dejacache" in master.cli("--scan")
    assert store.put_many([(k(i), "many", b"m", 60.0) for i in range(20)], T0) == 20
    assert len(store.keys("many")) == 20 and store.clear("many") == 20

    async def run():
        assert await store.aget(k(1), "d", T0) == (b"v", T0)
        await store.aclose()

    asyncio.run(run())
    store.close()
