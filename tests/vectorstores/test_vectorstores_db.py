"""The vector-store behaviour suite on the vector databases (Milvus, Qdrant, Chroma), plus what
a shared database adds: namespaces isolated by filter (property-tested), threads, and a
database that fails (the semantic tier answers with misses, never an error).

Milvus runs as milvus-lite's gRPC server on 127.0.0.1 (the client API a cluster speaks),
started once for this module; Qdrant in its local mode; Chroma embedded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from conftest import chat, run_threads
from dejacache import Cache, Semantic
from dejacache.vectorstores._base import EMPTY_ID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vector import test_vectorstores as suite

# The behaviour suite, run here with this module's `make`.
from vector.test_vectorstores import (  # noqa: F401
    metric,
    test_a_search_counts_first_only_where_counting_is_no_round_trip,
    test_bad_construction_is_a_value_error,
    test_bad_input_is_a_value_error,
    test_churn_against_a_model,
    test_concurrent_writes_never_pair_an_id_with_another_vectors_score,
    test_every_store_is_a_vector_store,
    test_growth_past_the_initial_capacity,
    test_k_beyond_the_size_leaves_empty_slots,
    test_loading_a_missing_or_foreign_file_is_a_value_error,
    test_namespaces_are_isolated,
    test_one_query_gives_one_row,
    test_readding_an_id_replaces_it,
    test_removed_ids_are_never_returned,
    test_repeated_ids_in_one_call_keep_the_last_vector,
    test_save_and_load_round_trip,
    test_search_finds_the_exact_neighbours,
)

# The metric-specific tests on every metric, the others on one (see suite.ONE_METRIC).
pytest_generate_tests = suite.one_metric_where_it_does_not_matter


@pytest.fixture
def rounds() -> float:
    """Two fifths of the churn and thread tests' random operations (and of the growth test's
    queries): each is a round trip to milvus-lite or a pure-Python scan in Qdrant's local mode.
    The churn's 160 steps still add 130 of its 150 ids, replace 72, remove 76 and search 33
    times, checking the count after each."""
    return 0.4


LIBRARIES = {"milvus": "pymilvus", "qdrant": "qdrant_client", "chroma": "chromadb"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    """A milvus-lite gRPC server on 127.0.0.1 for this module; yields its URI."""
    if importlib.util.find_spec("milvus_lite") is None or importlib.util.find_spec("pymilvus") is None:
        pytest.skip("milvus-lite / pymilvus are not installed")
    port = _free_port()
    data = tmp_path_factory.mktemp("milvus")
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "milvus_lite",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data / "db"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"milvus-lite server did not start: {(data / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(3)  # its data directory is thrown away: no need to wait long for a clean exit
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def milvus_collections(milvus_server):
    """Emptied Milvus collections by (dim, metric), lent from test to test: milvus-lite takes about
    a second to make and load a collection, and a few milliseconds to empty one. Each test
    still gets a new ``MilvusStore`` (a new client) over an empty collection; the first test
    of each shape makes its collection, so creation is tested too."""
    from pymilvus import MilvusClient

    free: dict[tuple[int, str], list[str]] = {}
    client = MilvusClient(uri=milvus_server)
    yield client, free
    client.close()


def _give_back(client, free, shape, name) -> None:
    """Empties a lent collection and puts it back in ``free``; drops it when that fails."""
    try:
        client.delete(name, filter='pk != ""')
        left = client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
        if left == 0:
            free.setdefault(shape, []).append(name)
            return
    except Exception:  # noqa: BLE001 - a test may have broken it: a new one is made next time
        pass
    with contextlib.suppress(Exception):
        client.drop_collection(name)


def _factory(kind: str, milvus_uri: str | None, lent: list | None = None, free: dict | None = None):
    def make(dim, metric_name="cosine", **options):
        name = f"t{uuid.uuid4().hex[:12]}"
        if kind == "milvus":
            from dejacache.vectorstores import MilvusStore

            shape = (dim, metric_name)
            pooled = free is not None and not options and isinstance(dim, int) and dim > 0
            if pooled and free.get(shape):
                name = free[shape].pop()
            store = MilvusStore(dim, metric_name, uri=milvus_uri, collection=name, **options)
            if pooled:
                lent.append((shape, name, store))
            return store
        if kind == "qdrant":
            from dejacache.vectorstores import QdrantStore

            return QdrantStore(dim, metric_name, collection=name, **options)
        from dejacache.vectorstores import ChromaStore

        return ChromaStore(dim, metric_name, collection=name, **options)

    return make


@pytest.fixture(params=sorted(LIBRARIES))
def kind(request):
    if importlib.util.find_spec(LIBRARIES[request.param]) is None:
        pytest.skip(f"{LIBRARIES[request.param]} is not installed")
    return request.param


@pytest.fixture
def make(kind, request):
    if kind != "milvus":
        yield _factory(kind, None)
        return
    uri = request.getfixturevalue("milvus_server")
    client, free = request.getfixturevalue("milvus_collections")
    lent: list = []
    yield _factory(kind, uri, lent, free)
    for shape, name, store in lent:
        with contextlib.suppress(Exception):
            store.close()
        _give_back(client, free, shape, name)


def test_save_writes_a_copy_that_loads_into_another_database(make, tmp_path):
    # (the suite's round trip loads into each class's default local store; this one into a named one)
    store = make(suite.DIM, "cosine")
    v = suite.vectors(40)
    store.add(suite.ids_of(40), v, namespace="x")
    store.save(tmp_path / "dump")
    copy = type(store).load(tmp_path / "dump")
    assert copy.namespaces() == ["x"] and copy.count("x") == 40
    ids, _ = copy.search(v[:5], k=1, namespace="x")
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]


# -- namespaces: no hit across tenants or scopes ------------------------------------------

_namespace_names = st.text(min_size=1, max_size=12).filter(lambda s: "\x00" not in s)


@pytest.fixture
def shared_store(make):
    """One store for every example of a property test (a collection per example is slow)."""
    return make(8, "dot"), iter(range(10**6))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(_namespace_names, min_size=2, max_size=4, unique=True),
    ids=st.lists(st.integers(0, 2**64 - 2), min_size=1, max_size=6, unique=True),
    seed=st.integers(0, 2**16),
)
def test_no_hit_crosses_namespaces(shared_store, names, ids, seed):
    """Every namespace holds the same ids with its own vectors; a search in one returns only
    its own (id, score) pairs, and a remove in one leaves the others whole. The store also
    holds the namespaces of earlier examples (each example's names get a fresh prefix, one
    that may itself look like a name: "3" + "1x" vs "31" + "x" are different namespaces)."""
    store, counter = shared_store
    example = next(counter)
    names = [f"{example}{name}" for name in names]
    rng = np.random.default_rng(seed)
    rows = {ns: rng.standard_normal((len(ids), 8)).astype(np.float32) for ns in names}
    id_arr = np.array(ids, np.uint64)
    for ns in names:
        store.add(id_arr, rows[ns], namespace=ns)
    for ns in names:
        assert store.count(ns) == len(ids)
        found, scores = store.search(rows[ns], k=len(ids) + 3, namespace=ns)
        for q in range(len(ids)):
            filled = found[q] != EMPTY_ID
            assert sorted(found[q][filled].tolist()) == sorted(ids)
            want = rows[ns][q] @ rows[ns].T  # the scores of this namespace's own vectors
            got = dict(zip(found[q][filled].tolist(), scores[q][filled].tolist()))
            for i, vid in enumerate(ids):
                assert got[vid] == pytest.approx(float(want[i]), rel=1e-3, abs=1e-3)
    assert store.remove(id_arr, namespace=names[0]) == len(ids)
    assert store.count(names[0]) == 0 and all(store.count(ns) == len(ids) for ns in names[1:])
    assert (store.search(rows[names[1]], k=2, namespace=names[0])[0] == EMPTY_ID).all()
    assert all(store.contains(ids[0], ns) for ns in names[1:]) and not store.contains(ids[0], names[0])


def test_a_collection_of_another_shape_is_refused(make):
    store = make(8, "cosine")
    store.add(suite.ids_of(2), suite.vectors(2, dim=8))
    with pytest.raises(ValueError, match="collection"):
        _reopen(store, dim=16)


def _reopen(store, dim):
    cls = type(store)
    if cls.__name__ == "MilvusStore":
        return cls(dim, "cosine", uri=store._uri, collection=store._collection)
    if cls.__name__ == "QdrantStore":
        return cls(dim, "cosine", client=store._client, collection=store._collection)
    return cls(dim, "cosine", client=store._client, collection=store._collection_name)


def test_concurrent_adds_removes_and_searches_from_threads(make):
    store = make(16, "l2")
    rows = suite.vectors(240, dim=16, seed=3)

    def writer(part):
        ids = np.arange(part * 60, part * 60 + 60, dtype=np.uint64)
        for start in range(0, 60, 10):
            store.add(ids[start : start + 10], rows[ids[start : start + 10].astype(np.int64)], namespace=f"t{part}")
        store.remove(ids[:30], namespace=f"t{part}")

    def reader(part):
        for _ in range(8):
            found, _ = store.search(rows[part * 60 : part * 60 + 2], k=5, namespace=f"t{part}")
            got = found[found != EMPTY_ID]
            assert ((got >= part * 60) & (got < part * 60 + 60)).all()

    run_threads(*[(writer, p) for p in range(4)], *[(reader, p) for p in range(4)], timeout=120)
    for part in range(4):
        assert store.count(f"t{part}") == 30
        found, _ = store.search(rows[part * 60 + 30 : part * 60 + 60], k=1, namespace=f"t{part}")
        assert found[:, 0].tolist() == list(range(part * 60 + 30, part * 60 + 60))


# -- the semantic tier over a database ----------------------------------------------------


class _Embedder:
    """Texts that differ only in the trailing digit embed to the same direction."""

    name = "test-embedder"
    dim = 8
    default_threshold = 0.9

    def embed(self, texts):
        out = np.zeros((len(texts), 8), np.float32)
        for i, t in enumerate(texts):
            out[i, hash(t.rstrip("0123456789 ?!")) % 8] = 1.0
        return out


def _cache(store):
    from dejacache.evaluation import Cosine

    return Cache(semantic=Semantic(embedder=_Embedder(), vector_store=store, evaluator=Cosine(), threshold=0.9))


def test_semantic_hits_come_from_the_database_and_tenants_stay_apart(make):
    store = make(8, "cosine")
    cache = _cache(store)
    assert cache.call(chat("what is rust 1"), lambda r: {"a": "first"}, cache={"namespace": "t1"}) == {"a": "first"}
    assert store.count() == 0 and len(store) == 1  # the vector went to the database, in its scope
    hit = cache.get(chat("what is rust 2"), cache={"namespace": "t1"})
    assert hit is not None and hit.source == "semantic" and hit.response == {"a": "first"}
    assert cache.get(chat("what is rust 2"), cache={"namespace": "t2"}) is None
    assert cache.get(chat("what is rust 2", temperature=0.5), cache={"namespace": "t1"}) is None
    cache.delete(chat("what is rust 1"), namespace="t1")
    assert cache.get(chat("what is rust 2"), cache={"namespace": "t1"}) is None
    assert len(store) == 0


def _break(store):
    """Makes every later call on ``store`` fail, as a database that went down."""
    name = type(store).__name__
    if name == "MilvusStore":
        store._uri = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
        store._timeout = 0.5
        store.close()
    elif name == "QdrantStore":
        store._url, store._path, store._timeout = f"http://127.0.0.1:{_free_port()}", None, 0.5
        store._serialize = False
        store.close()
    else:
        store._path = "/proc/no-such-dir/chroma"  # the client cannot be opened again
        store.close()


def test_a_failing_database_means_misses_never_errors(make, caplog):
    store = make(8, "cosine")
    cache = _cache(store)
    cache.call(chat("what is rust 1"), lambda r: {"a": "first"})
    assert cache.get(chat("what is rust 2")).source == "semantic"
    _break(store)
    with pytest.raises(Exception):  # noqa: B017 - the store itself reports the fault...
        store.search(np.ones(8, np.float32), k=1)
    # ...the cache does not: lookups miss, puts keep the exact entry, deletes go through.
    assert cache.get(chat("what is rust 2")) is None
    assert cache.call(chat("what is rust 3"), lambda r: {"a": "fresh"}) == {"a": "fresh"}
    assert cache.get(chat("what is rust 3")).source == "exact"
    cache.put_many([(chat("new 1"), {"a": 1}), (chat("new 2"), {"a": 2})])
    assert cache.get(chat("new 1")).response == {"a": 1}
    cache.delete(chat("what is rust 1"))
    cache.clear()
    # the fault is reported once (the fail-open guard in front of a store on a server), never raised
    assert "semantic lookups are misses" in caplog.text or "semantic lookup failed" in caplog.text


def test_milvus_lite_local_file(tmp_path):
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from dejacache.vectorstores import MilvusStore

    path = str(tmp_path / "v.db")
    store = MilvusStore(4, "l2", uri=path)
    store.add(suite.ids_of(3), np.eye(3, 4, dtype=np.float32), namespace="n")
    store.close()
    again = MilvusStore(4, "l2", uri=path)
    assert again.count("n") == 3 and again.search(np.eye(3, 4, dtype=np.float32)[1], k=1, namespace="n")[0][0] == 1
    again.close()


@pytest.mark.parametrize("kind_", ["qdrant", "chroma"])
def test_local_stores_on_disk_survive_a_reopen(kind_, tmp_path):
    pytest.importorskip(LIBRARIES[kind_])
    from dejacache.vectorstores import ChromaStore, QdrantStore

    cls = QdrantStore if kind_ == "qdrant" else ChromaStore
    store = cls(4, "dot", path=str(tmp_path / "db"))
    store.add(suite.ids_of(3), np.eye(3, 4, dtype=np.float32), namespace="n")
    store.close()
    again = cls(4, "dot", path=str(tmp_path / "db"))
    assert again.count("n") == 3 and again.search(np.eye(3, 4, dtype=np.float32)[2], k=1, namespace="n")[0][0] == 2
    again.close()


def test_payloads_come_back_with_their_vectors(make, tmp_path):
    store = make(4, "cosine")
    v = np.eye(4, dtype=np.float32)
    store.add(suite.ids_of(3), v[:3], namespace="n", payloads=['{"k": "a"}', None, "ünïcode " * 50])
    ids, scores, payloads = store.search_payloads(v[0], k=4, namespace="n")
    assert ids[0] == 0 and payloads[0] == '{"k": "a"}' and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert dict(zip(ids[:3].tolist(), payloads[:3])) == {0: '{"k": "a"}', 1: None, 2: "ünïcode " * 50}
    assert ids[3] == EMPTY_ID and payloads[3] is None and np.isnan(scores[3])
    store.add(np.array([0], np.uint64), v[:1], namespace="n", payloads=["replaced"])
    assert store.search_payloads(v[0], k=1, namespace="n")[2] == ["replaced"]
    assert store.search_payloads(v[0], k=1, namespace="other")[2] == [None]
    store.save(tmp_path / "dump")
    copy = type(store).load(tmp_path / "dump")
    assert copy.search_payloads(v[2], k=1, namespace="n")[2] == ["ünïcode " * 50]
    with pytest.raises(ValueError, match="payload"):
        store.add(suite.ids_of(2), v[:2], namespace="n", payloads=["one"])
    with pytest.raises(ValueError, match="one query"):
        store.search_payloads(v[:2], k=1, namespace="n")


def test_urls_open_each_database(tmp_path, monkeypatch, milvus_server):
    from dejacache.vectorstores import ChromaStore, MilvusStore, QdrantStore
    from dejacache.vectorstores._open import SCHEMES
    from dejacache.vectorstores._open import open_vector_store as open_more

    monkeypatch.chdir(tmp_path)
    assert {"milvus", "milvuss", "qdrant", "qdrants", "chroma"} <= set(SCHEMES)
    opened = [
        open_more("qdrant:///q", 4),
        open_more(f"qdrant:///{tmp_path}/q2", 4),  # qdrant:////absolute/path
        open_more("chroma:///c", 4, "dot"),
        open_more("milvus:///m.db", 4, "l2"),
        open_more(milvus_server.replace("http://", "milvus://"), 4, collection=f"u{uuid.uuid4().hex[:8]}"),
    ]
    assert [type(s) for s in opened] == [QdrantStore, QdrantStore, ChromaStore, MilvusStore, MilvusStore]
    for store in opened:
        store.add(suite.ids_of(1), np.ones((1, 4), np.float32), namespace="n")
        assert store.count("n") == 1
        store.close()
    assert (tmp_path / "q").is_dir() and (tmp_path / "q2").is_dir() and (tmp_path / "c").is_dir()
    assert (tmp_path / "m.db").exists()
    monkeypatch.setenv("DEJACACHE_TEST_VEC_URL", "chroma:///from-env")
    store = ChromaStore.from_url("os.environ/DEJACACHE_TEST_VEC_URL", 4)
    store.close()
    assert (tmp_path / "from-env").is_dir()
    for bad in ["qdrant://", "qdrant://host:1/extra", "chroma://host:1", "nosuch://x", "milvus:/x.db", "chroma:///"]:
        with pytest.raises(ValueError):
            open_more(bad, 4)


def test_a_server_that_is_down_at_start_is_retried(caplog):
    pytest.importorskip("qdrant_client")
    from dejacache.vectorstores._open import open_vector_store as open_more

    store = open_more(f"qdrant://127.0.0.1:{_free_port()}", 4, timeout=0.5)  # nothing listens: no error yet
    assert "not reachable yet" in caplog.text
    with pytest.raises(Exception):  # noqa: B017 - each call reports the fault; the semantic tier makes it a miss
        store.search(np.ones(4, np.float32), k=1)


@pytest.mark.parametrize(
    ("kind_", "make"),
    [
        ("milvus", lambda cls: cls(8, uri="https://root:Milvus-pw@milvus.internal:19530")),
        ("qdrant", lambda cls: cls(8, url="https://reader:Qdrant-pw@qdrant.internal:6333")),
    ],
)
def test_a_password_in_a_database_url_never_shows(kind_, make):
    """The repr (which logs and errors show) names the server without the URL's password; making
    the store does no I/O, so no server is needed."""
    pytest.importorskip(LIBRARIES[kind_])
    from dejacache.vectorstores import MilvusStore, QdrantStore

    text = repr(make(MilvusStore if kind_ == "milvus" else QdrantStore))
    assert "-pw" not in text and ":***@" in text and ".internal" in text
