"""Redis Stack and pgvector stores beyond the shared suite: payloads, tenant and scope isolation
(property-tested, in the store and through a Cache), removes and replaces through a Cache,
threads, fail-open with the server down, and the choice of a store by URL (code and YAML)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_threads
from dejacache import Cache, Semantic, evaluation
from dejacache.vectorstores import EMPTY_ID, GuardedVectorStore, PgVectorStore, RedisVectorStore, open_vector_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semantic_helpers import WordEmbedder

from .conftest import PG_ENV
from .servers import free_port

DIM = 16
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def chat(text: str, model: str = "gpt-4o", **params) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **params}


def answer(text: str) -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


def semantic_cache(vector_store, **cache_kw) -> Cache:
    sem = Semantic(
        embedder=WordEmbedder(DIM * 8), threshold=0.9, evaluator=evaluation.Cosine(), vector_store=vector_store
    )
    return Cache(semantic=sem, **cache_kw)


# -- the store ---------------------------------------------------------------------------------


def test_payloads_ride_with_their_vectors(remote_store):
    store = remote_store(DIM)
    v = unit(np.random.default_rng(0), 4)
    store.add(np.arange(4, dtype=np.uint64), v, namespace="t/a", payloads=["zero", None, "two ✓", "three"])
    ids, scores, payloads = store.search_payloads(v[2], k=6, namespace="t/a")
    assert ids[0] == 2 and payloads[0] == "two ✓" and scores[0] == pytest.approx(1.0, abs=1e-4)
    by_id = {int(i): p for i, p in zip(ids.tolist(), payloads) if i != EMPTY_ID}
    assert by_id == {0: "zero", 1: None, 2: "two ✓", 3: "three"}
    assert (ids[4:] == EMPTY_ID).all() and payloads[4:] == [None, None]
    # A replacement replaces the payload too; one without a payload leaves none behind.
    store.add(np.array([2, 3], np.uint64), v[2:4], namespace="t/a", payloads=["TWO", None])
    _, _, payloads = store.search_payloads(v[2], k=1, namespace="t/a")
    assert payloads == ["TWO"]
    _, _, payloads = store.search_payloads(v[3], k=1, namespace="t/a")
    assert payloads == [None]
    with pytest.raises(ValueError, match="payloads for"):
        store.add(np.arange(2, dtype=np.uint64), v[:2], namespace="t/a", payloads=["x"])
    with pytest.raises(ValueError, match="one query"):
        store.search_payloads(v[:2], k=1, namespace="t/a")


# Names that would break a query language if they were spliced in: tag syntax, quotes, unicode.
_NAMES = st.sampled_from(["a", "ab", "a b", "{x}", "x|y", "t,u", "q'\"", "ünï", "@t:{*}", "-", "a/b"])


@SETTINGS
@given(
    ops=st.lists(
        st.tuples(_NAMES, _NAMES, st.integers(0, 5), st.integers(0, 10_000)),
        min_size=1,
        max_size=25,
    )
)
def test_no_vector_is_found_across_tenants_or_scopes(remote_kind, request, ops):
    """Random adds of the same ids under many tenant/parameter scopes: a search in a scope finds
    exactly that scope's ids, each scored by that scope's own vector."""
    from .conftest import new_store

    store = new_store(remote_kind, request, DIM)
    try:
        model: dict[str, dict[int, np.ndarray]] = {}
        for tenant, params, vid, seed in ops:
            scope = f"{tenant}/{params}"
            vec = unit(np.random.default_rng(seed), 1)
            store.add(np.array([vid], np.uint64), vec, namespace=scope, payloads=[scope])
            model.setdefault(scope, {})[vid] = vec[0]
        for scope, rows in model.items():
            assert store.count(scope) == len(rows)
            for vec in rows.values():
                ids, scores, payloads = store.search_payloads(vec, k=8, namespace=scope)
                found = [(int(i), s, p) for i, s, p in zip(ids.tolist(), scores.tolist(), payloads) if i != EMPTY_ID]
                assert {i for i, _, _ in found} == set(rows), (scope, found)
                for i, s, p in found:
                    assert p == scope
                    assert s == pytest.approx(float(rows[i] @ vec), abs=1e-3)
        # A tenant or scope never stored finds nothing, even one that prefixes a stored name.
        for probe in ("a/", "a", "/a", "ab/0x", "zz/0"):
            if probe not in model:
                ids, _, _ = store.search_payloads(unit(np.random.default_rng(1), 1)[0], k=4, namespace=probe)
                assert (ids == EMPTY_ID).all(), probe
        assert sorted(model) == store.namespaces()
    finally:
        store.drop_all()
        store.close()


# -- through a Cache ---------------------------------------------------------------------------


@SETTINGS
@given(
    puts=st.lists(
        st.tuples(
            st.sampled_from(["acme", "globex", "acme/x"]), st.sampled_from(["gpt-4o", "gpt-4o-mini"]), st.integers(0, 3)
        ),
        min_size=1,
        max_size=8,
    ),
    gets=st.lists(
        st.tuples(
            st.sampled_from(["acme", "globex", "acme/x"]), st.sampled_from(["gpt-4o", "gpt-4o-mini"]), st.integers(0, 3)
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_no_semantic_hit_across_tenants_or_parameters(remote_kind, request, puts, gets):
    """A paraphrase hits only the answer stored under the same tenant and the same parameters."""
    from .conftest import new_store

    store = new_store(remote_kind, request, DIM * 8)
    try:
        cache = semantic_cache(store)
        topics = ["capital France", "boiling water", "largest planet", "speed light"]
        stored = {}
        for tenant, model, topic in puts:
            text = f"what is the {topics[topic]}?"
            reply = answer(f"{tenant}|{model}|{topic}")
            cache.put(chat(text, model), reply, namespace=tenant)
            stored[(tenant, model, topic)] = reply
        for tenant, model, topic in gets:
            hit = cache.get(chat(f"Please tell me the {topics[topic]}", model), namespace=tenant)
            want = stored.get((tenant, model, topic))
            if want is None:
                assert hit is None, (tenant, model, topic, hit.response)
            else:
                assert hit is not None and hit.source == "semantic" and hit.response == want
    finally:
        store.drop_all()
        store.close()


def test_a_cache_with_an_exact_store_of_its_own_leaves_other_caches_vectors_alone(remote_store, caplog):
    """Two processes sharing a vector store but each with its own in-memory exact store: one
    finds the other's vector and no entry behind it, which says nothing about that entry (it
    lives in the other process). The vector is skipped, never removed; and a warning says to
    share the exact store."""
    store = remote_store(DIM * 8)
    with caplog.at_level("WARNING", logger="dejacache"):
        owner, other = semantic_cache(store), semantic_cache(store)
    owner.put(chat("What's the capital of France?"), answer("Paris"))
    assert other.get(chat("capital of France please")) is None  # its entry is not in this store
    assert owner.get(chat("capital of France please")).response == answer("Paris")  # still there
    assert store.count(next(iter(store.namespaces()))) == 1
    assert "exact store" in caplog.text and "shared" in caplog.text


def test_delete_and_replace_through_a_cache(remote_store):
    store = remote_store(DIM * 8)
    cache = semantic_cache(store)
    cache.put(chat("What's the capital of France?"), answer("Paris"))
    assert cache.get(chat("capital of France please")).response == answer("Paris")
    cache.put(chat("What's the capital of France?"), answer("Paris, France"))  # a replacement
    assert cache.get(chat("capital of France please")).response == answer("Paris, France")
    assert store.count(next(iter(store.namespaces()))) == 1
    assert cache.delete(chat("What's the capital of France?"))
    assert cache.get(chat("capital of France please")) is None
    assert len(store) == 0
    cache.put(chat("What's the capital of Spain?"), answer("Madrid"), namespace="t1")
    cache.clear("t1")
    assert cache.get(chat("capital of Spain please"), namespace="t1") is None


def test_a_vector_another_process_cannot_place_is_skipped_never_removed(remote_store):
    store = remote_store(DIM * 8)
    cache = semantic_cache(store)
    cache.put(chat("What's the capital of France?"), answer("Paris"))
    (scope,) = store.namespaces()
    vec = cache.semantic.embedder.embed(["capital france"])
    # Vectors in the same scope that this process cannot place: no payload, a foreign one.
    store.add(np.array([111, 222], np.uint64), np.vstack([vec, vec]), namespace=scope, payloads=[None, '{"n": "x"}'])
    hit = cache.get(chat("capital of France please"))
    assert hit is not None and hit.response == answer("Paris")
    assert store.contains(111, scope) and store.contains(222, scope) and store.count(scope) == 3


def test_threads_share_one_cache_and_store(remote_store):
    store = remote_store(DIM * 8)
    cache = semantic_cache(store)
    wrong = []

    def worker(t):
        for i in range(15):
            topic = f"topic{t}x{i}"
            cache.put(chat(f"what is {topic}?"), answer(topic), namespace=f"tenant{t % 2}")
            hit = cache.get(chat(f"please tell me {topic}"), namespace=f"tenant{t % 2}")
            if hit is None or hit.response != answer(topic):
                wrong.append((topic, hit and hit.response))
            other = cache.get(chat(f"please tell me {topic}"), namespace=f"tenant{(t + 1) % 2}")
            if other is not None:
                wrong.append(("leak", topic))

    run_threads(*[(worker, t) for t in range(4)], timeout=120)
    assert not wrong, wrong[:5]
    assert len(store) == 60


# -- fail-open ---------------------------------------------------------------------------------


def _dead_url(kind: str) -> str:
    port = free_port()  # nothing listens there
    return f"redis://127.0.0.1:{port}/0" if kind == "redis" else f"postgresql://u:p@127.0.0.1:{port}/db"


def test_server_down_means_misses_never_errors(remote_kind):
    cache = semantic_cache(_dead_url(remote_kind))
    guard = cache.semantic.index
    assert isinstance(guard, GuardedVectorStore)
    for i in range(6):
        cache.put(chat(f"What's the capital of country {i}?"), answer(str(i)))
        assert cache.get(chat(f"capital of country {i} please")) is None
        assert cache.get(chat(f"What's the capital of country {i}?")).source == "exact"  # the exact tier stands
        assert cache.delete(chat(f"What's the capital of country {i}?"))
    cache.clear()
    assert guard.errors >= guard.failures_to_open and guard.skipped > 0  # the breaker skips the dead server


def test_server_dying_mid_use():
    from .servers import start_redis_stack

    try:
        server = start_redis_stack()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    port = server.port
    try:
        cache = semantic_cache(f"redis://127.0.0.1:{port}/0")
        cache.put(chat("What's the capital of France?"), answer("Paris"))
        assert cache.get(chat("capital of France please")).source == "semantic"
        server.stop()
        assert cache.get(chat("capital of France please")) is None  # down: a miss, not an error
        cache.put(chat("What's the capital of Spain?"), answer("Madrid"))
        assert cache.get(chat("What's the capital of Spain?")).source == "exact"
    finally:
        server.stop()


def test_the_breaker_skips_a_dead_server_and_closes_when_it_is_back():
    from .servers import start_redis_stack

    try:
        server = start_redis_stack()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    now = [0.0]
    try:
        guard = GuardedVectorStore(RedisVectorStore(DIM, url=server.url, name="brk"), clock=lambda: now[0])
        v = unit(np.random.default_rng(0), 3)
        guard.add(np.arange(3, dtype=np.uint64), v, namespace="t/p")
        assert guard.search(v[1], k=1, namespace="t/p")[0][0] == 1
        port = server.port
        server.stop()
        for _ in range(guard.failures_to_open + 2):
            ids, scores = guard.search(v[1], k=2, namespace="t/p")
            assert (ids == EMPTY_ID).all() and np.isnan(scores).all()
        assert guard.errors == guard.failures_to_open and guard.skipped == 2
        assert guard.remove(np.array([1], np.uint64), namespace="t/p") == 0  # skipped, no error
        server = start_redis_stack(port)  # back, empty
        assert guard.search(v[1], k=1, namespace="t/p")[0][0] == EMPTY_ID  # still skipping
        now[0] += guard.probe_after_s
        # The probe goes through and succeeds (the store makes its index again on the new server).
        assert guard.search(v[1], k=1, namespace="t/p")[0][0] == EMPTY_ID and "closed" in repr(guard)
        guard.add(np.arange(3, dtype=np.uint64), v, namespace="t/p")
        assert guard.search(v[1], k=1, namespace="t/p")[0][0] == 1 and guard.errors == guard.failures_to_open
    finally:
        server.stop()


# -- selection by URL --------------------------------------------------------------------------


def test_a_url_opens_the_adapter(remote_kind, request):
    if remote_kind == "redis":
        url, cls = request.getfixturevalue("redis_stack").url, RedisVectorStore
    else:
        request.getfixturevalue("pgvector_server")
        url, cls = f"os.environ/{PG_ENV}", PgVectorStore
    store = open_vector_store(url, dim=8, name="byurl_" + remote_kind)
    try:
        assert type(store) is cls and store.dim == 8 and store.metric == "cosine"
        assert "vec-Pa55" not in repr(store)  # the password never shows
        cache = semantic_cache(url)
        assert type(cache.semantic.index.store) is cls
        cache.put(chat("What's the capital of France?"), answer("Paris"))
        assert cache.get(chat("capital of France please")).source == "semantic"
        cache.semantic.index.store.drop_all()
    finally:
        store.drop_all()


def test_a_url_in_yaml(redis_stack, tmp_path):
    import yaml

    path = tmp_path / "cache.yaml"
    path.write_text(yaml.safe_dump({"semantic": {"embedder": "hashing", "vector_store": redis_stack.url}}))
    cache = Cache.from_config(path)
    assert type(cache.semantic.index.store) is RedisVectorStore
    cache.put(chat("What is the capital of France?"), answer("Paris"))
    assert cache.get(chat("What is the capital of France")).source == "semantic"
    cache.semantic.index.store.drop_all()


def test_bad_urls_are_refused_early():
    with pytest.raises(ValueError, match="unknown vector store URL 'ftp'.*redis://"):
        Semantic(vector_store="ftp://host/x")
    with pytest.raises(ValueError, match="NO_SUCH_VAR"):
        Cache(semantic=Semantic(embedder=WordEmbedder(8), vector_store="os.environ/NO_SUCH_VAR"))
    from dejacache import load_config
    from dejacache._errors import ConfigError

    with pytest.raises(ConfigError, match="unknown vector store URL"):
        load_config({"semantic": {"vector_store": "mongodb://x"}})


def test_a_store_opened_with_another_dimension_says_so(remote_store):
    store = remote_store(DIM)
    store.add(np.arange(2, dtype=np.uint64), unit(np.random.default_rng(0), 2))
    other = type(store).from_url(store._url, DIM * 2, name=store.name)
    with pytest.raises(ValueError, match="another name|pick another"):
        other.count()


@pytest.mark.parametrize(
    "cls, module, extra", [(RedisVectorStore, "redis", "redis"), (PgVectorStore, "psycopg", "pgvector")]
)
def test_a_missing_client_names_the_extra(cls, module, extra, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"pip install 'dejacache\[{extra}\]'"):
        cls(DIM)


def test_importing_the_stores_loads_no_client_and_makes_no_connection():
    import subprocess
    import sys

    # One interpreter, in order: the import loads no client; the constructors import theirs...
    code = (
        "import sys, dejacache.vectorstores as v; "
        "assert not {'redis', 'psycopg'} & set(sys.modules), sorted(sys.modules); "
        "v.RedisVectorStore(8, url='redis://127.0.0.1:1/0'); v.PgVectorStore(8, url='postgresql://u@127.0.0.1:1/d'); "
        "assert 'psycopg' in sys.modules and 'redis' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # ...and connect to nothing (port 1 is closed)
