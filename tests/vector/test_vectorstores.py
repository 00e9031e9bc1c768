"""One behaviour suite for every vector store: the built-in index and each installed peer."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from conftest import run_threads
from dejacache.vectorstores import EMPTY_ID, BuiltinStore, FaissStore, HnswlibStore, UsearchStore, VectorStore

DIM = 24

STORES = {
    "builtin": (None, lambda dim, metric: BuiltinStore(dim, metric)),
    "builtin-hnsw": (None, lambda dim, metric: BuiltinStore(dim, metric, kind="hnsw")),
    "builtin-i8": (None, lambda dim, metric: BuiltinStore(dim, metric, kind="flat", dtype="i8")),
    "hnswlib": ("hnswlib", lambda dim, metric: HnswlibStore(dim, metric, initial_capacity=64)),
    "usearch": ("usearch", lambda dim, metric: UsearchStore(dim, metric)),
    "faiss": ("faiss", lambda dim, metric: FaissStore(dim, metric)),
}
PEERS = {"hnswlib": (HnswlibStore, "hnswlib"), "usearch": (UsearchStore, "usearch"), "faiss": (FaissStore, "faiss")}


@pytest.fixture(params=sorted(STORES))
def make(request):
    library, factory = STORES[request.param]
    if library is not None and importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed")
    return factory


@pytest.fixture(params=["cosine", "dot", "l2"])
def metric(request):
    return request.param


#: Tests that take a metric but check what an adapter over a vector database does the same way
#: under every metric (ids, counts, namespaces, replacing, a save): there the metric is only a
#: word passed to the database when the collection is made, and ``test_search_finds_the_exact_neighbours``
#: checks every metric's order and scores. The database modules run each of these on one
#: metric, a different one per test, so that each metric still meets adds, replaces, removes and
#: a save; this module (the in-process libraries, which handle the metric in their own code) and
#: any test not named here run on every metric.
ONE_METRIC = {
    "test_readding_an_id_replaces_it": "l2",
    "test_removed_ids_are_never_returned": "dot",
    "test_namespaces_are_isolated": "cosine",
    "test_save_and_load_round_trip": "dot",
}


@pytest.fixture
def rounds() -> float:
    """The share of its random operations each of the churn and thread tests makes (and of its
    queries the growth test asks). A module running the suite on a database, where each call is
    a round trip or a pure-Python scan (milvus-lite, Qdrant's local mode), lowers it; the
    operations stay the same kinds and mix."""
    return 1.0


def one_metric_where_it_does_not_matter(metafunc) -> None:
    """A ``pytest_generate_tests`` for the modules that run this suite on a vector database."""
    if "metric" in metafunc.fixturenames:
        name = metafunc.function.__name__
        metafunc.parametrize("metric", [ONE_METRIC[name]] if name in ONE_METRIC else ["cosine", "dot", "l2"])


def vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def exact(metric: str, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    q, r = queries.astype(np.float64), rows.astype(np.float64)
    if metric == "dot":
        return q @ r.T
    if metric == "l2":
        return ((q[:, None, :] - r[None, :, :]) ** 2).sum(-1)
    return (q @ r.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(r, axis=1))


def best_first(metric: str, scores: np.ndarray) -> bool:
    s = scores[~np.isnan(scores)]
    return bool(np.all(np.diff(s) >= -1e-5)) if metric == "l2" else bool(np.all(np.diff(s) <= 1e-5))


def ids_of(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.uint64)


def test_every_store_is_a_vector_store(make):
    store = make(DIM, "cosine")
    assert isinstance(store, VectorStore)
    assert (store.dim, store.metric, len(store)) == (DIM, "cosine", 0)


def test_search_finds_the_exact_neighbours(make, metric):
    store = make(DIM, metric)
    v = vectors(300)
    store.add(ids_of(300), v)
    assert len(store) == 300 and store.count() == 300
    q = vectors(20, seed=1)
    ids, scores = store.search(q, k=5)
    assert ids.shape == scores.shape == (20, 5)
    assert ids.dtype == np.uint64 and scores.dtype == np.float32
    truth = exact(metric, q, v)
    order = np.argsort(truth, axis=1) if metric == "l2" else np.argsort(-truth, axis=1)
    hits = np.mean([len(set(ids[i].tolist()) & set(order[i, :5].tolist())) / 5 for i in range(20)])
    assert hits >= 0.95
    for i in range(20):
        assert best_first(metric, scores[i])
        # Each score is the metric's value for the id returned with it.
        want = truth[i, ids[i].astype(np.int64)]
        np.testing.assert_allclose(scores[i], want, rtol=1e-3, atol=1e-3)


def test_one_query_gives_one_row(make):
    store = make(DIM, "cosine")
    v = vectors(10)
    store.add(ids_of(10), v)
    ids, scores = store.search(v[3], k=2)
    assert ids.shape == scores.shape == (2,)
    assert ids[0] == 3 and scores[0] == pytest.approx(1.0, abs=1e-3)


def test_readding_an_id_replaces_it(make, metric):
    store = make(DIM, metric)
    v = vectors(50)
    store.add(ids_of(50), v)
    replacement = vectors(1, seed=9)
    store.add(np.array([7], np.uint64), replacement)
    assert store.count() == 50
    ids, _ = store.search(replacement, k=1)
    assert ids[0, 0] == 7
    # The old vector of 7 is gone: searching with it scores 7 by the replacement.
    ids, scores = store.search(v[7:8], k=50)
    assert sorted(ids[0].tolist()) == list(range(50))
    score_of_7 = scores[0][ids[0] == 7][0]
    assert score_of_7 == pytest.approx(exact(metric, v[7:8], replacement)[0, 0], rel=1e-3, abs=1e-3)


def test_repeated_ids_in_one_call_keep_the_last_vector(make):
    store = make(DIM, "l2")
    v = vectors(3)
    store.add(np.array([1, 1, 2], np.uint64), v)
    assert store.count() == 2
    ids, scores = store.search(v[1], k=1)
    assert ids[0] == 1 and scores[0] == pytest.approx(0.0, abs=1e-3)


def test_removed_ids_are_never_returned(make, metric):
    store = make(DIM, metric)
    store.add(ids_of(200), vectors(200))
    gone = ids_of(100, start=50)
    assert store.remove(gone) == 100
    assert store.remove(gone) == 0
    assert store.remove(np.array([10_000], np.uint64)) == 0
    assert store.count() == 100
    ids, scores = store.search(vectors(30, seed=2), k=150)
    filled = ids != EMPTY_ID
    assert not np.isin(ids[filled], gone).any()
    assert np.isnan(scores[~filled]).all() and not np.isnan(scores[filled]).any()
    assert all(int(i) not in store for i in gone[:10])
    assert 0 in store and 199 in store
    # A removed id can come back.
    back = vectors(1, seed=5)
    store.add(np.array([60], np.uint64), back)
    assert 60 in store and store.count() == 101
    assert store.search(back, k=1)[0][0, 0] == 60


def test_a_search_counts_first_only_where_counting_is_no_round_trip(make, monkeypatch):
    # In process, a count is free and spares searching an empty namespace; on a server (a
    # store with ``remote = True``) it would double each search's round trips.
    store = make(DIM, "cosine")
    v = vectors(3)
    store.add(ids_of(3), v)
    counted = []
    count = store.count
    monkeypatch.setattr(store, "count", lambda namespace="default": counted.append(namespace) or count(namespace))
    assert store.search(v[1], k=1)[0][0] == 1
    assert (store.search(v[1], k=1, namespace="empty")[0] == EMPTY_ID).all()
    if getattr(store, "remote", False):
        assert counted == []
    elif type(store).search is VectorStore.search:  # the base search; BuiltinStore has its own
        assert counted == ["default", "empty"]


def test_k_beyond_the_size_leaves_empty_slots(make):
    store = make(DIM, "cosine")
    store.add(ids_of(3), vectors(3))
    ids, scores = store.search(vectors(2, seed=3), k=5)
    assert sorted(ids[0, :3].tolist()) == [0, 1, 2]
    assert (ids[:, 3:] == EMPTY_ID).all() and np.isnan(scores[:, 3:]).all()
    ids, scores = store.search(vectors(2), k=4, namespace="empty")
    assert (ids == EMPTY_ID).all() and np.isnan(scores).all()


def test_growth_past_the_initial_capacity(make, rounds):
    store = make(DIM, "l2")
    v = vectors(2000, seed=4)
    for start in range(0, 2000, 250):
        store.add(ids_of(250, start), v[start : start + 250])
    assert store.count() == 2000
    sample = np.arange(0, 2000, round(97 / rounds))  # 21 queries, or 9 at rounds=0.4 (all must hit)
    ids, scores = store.search(v[sample], k=1)
    assert np.mean(ids[:, 0] == sample.astype(np.uint64)) >= 0.95


def test_namespaces_are_isolated(make, metric):
    store = make(DIM, metric)
    a, b = vectors(100, seed=10), vectors(60, seed=11)
    store.add(ids_of(100), a, namespace="a")
    store.add(ids_of(60), b, namespace="b")
    assert store.namespaces() == ["a", "b"]
    assert (store.count("a"), store.count("b"), store.count(), len(store)) == (100, 60, 0, 160)
    assert store.contains(80, "a") and not store.contains(80, "b") and 80 not in store
    # Full recall within a namespace, nothing from the other one.
    ids, _ = store.search(b[:5], k=100, namespace="b")
    for row in ids:
        assert sorted(row[row != EMPTY_ID].tolist()) == list(range(60))
    ids, scores = store.search(b[:5], k=1, namespace="b")
    assert ids[:, 0].tolist() == [0, 1, 2, 3, 4]
    store.remove(ids_of(60), namespace="a")
    assert (store.count("a"), store.count("b")) == (40, 60)
    ids, _ = store.search(a[70:75], k=1, namespace="a")
    assert ids[:, 0].tolist() == [70, 71, 72, 73, 74]


def test_save_and_load_round_trip(make, metric, tmp_path):
    store = make(DIM, metric)
    v = vectors(120)
    store.add(ids_of(120), v)
    store.add(ids_of(30), vectors(30, seed=6), namespace="other")
    store.remove(ids_of(10))
    q = vectors(8, seed=7)
    before = store.search(q, k=5), store.search(q, k=5, namespace="other")
    path = tmp_path / "store"
    store.save(path)
    store.save(path)  # saving over an earlier save replaces it
    loaded = type(store).load(path)
    assert (loaded.dim, loaded.metric, len(loaded)) == (DIM, metric, 140)
    assert loaded.namespaces() == ["default", "other"]
    assert 5 not in loaded and 15 in loaded
    after = loaded.search(q, k=5), loaded.search(q, k=5, namespace="other")
    for (ids0, s0), (ids1, s1) in zip(before, after):
        assert np.mean(ids0 == ids1) >= 0.95
        np.testing.assert_allclose(np.sort(s0, axis=1), np.sort(s1, axis=1), atol=1e-3)
    loaded.add(ids_of(5, 1000), vectors(5, seed=8))
    assert loaded.count() == 115


def test_loading_a_missing_or_foreign_file_is_a_value_error(make, tmp_path):
    store = make(DIM, "cosine")
    junk = tmp_path / "junk"
    junk.write_bytes(b"not an index" * 10)
    with pytest.raises((ValueError, OSError)):
        type(store).load(junk)
    with pytest.raises((ValueError, OSError)):
        type(store).load(tmp_path / "missing")


def test_churn_against_a_model(make, rounds):
    """Random add / replace / remove / search: counts exact, removed ids never returned."""
    rng = np.random.default_rng(42)
    store = make(8, "l2")
    model: dict[int, np.ndarray] = {}
    for step in range(round(400 * rounds)):
        op = rng.random()
        if op < 0.5:
            ids = rng.integers(0, 150, size=int(rng.integers(1, 8))).astype(np.uint64)
            vecs = rng.standard_normal((len(ids), 8)).astype(np.float32)
            store.add(ids, vecs)
            for i, v in zip(ids.tolist(), vecs):
                model[i] = v
        elif op < 0.8:
            ids = rng.integers(0, 150, size=int(rng.integers(1, 8))).astype(np.uint64)
            removed = store.remove(ids)
            assert removed == len({i for i in ids.tolist() if i in model})
            for i in ids.tolist():
                model.pop(i, None)
        else:
            ids, _ = store.search(rng.standard_normal((2, 8)).astype(np.float32), k=10)
            got = ids[ids != EMPTY_ID].tolist()
            assert set(got) <= set(model), f"step {step}: returned removed ids {set(got) - set(model)}"
            assert len(got) == 2 * min(10, len(model))
        assert store.count() == len(model)
    if model:
        ids, _ = store.search(np.stack(list(model.values())), k=1)
        assert np.mean(ids[:, 0] == np.array(list(model), np.uint64)) >= 0.95


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.add(ids_of(2), vectors(2, dim=DIM + 1)), "shape"),
        (lambda s: s.add(ids_of(3), vectors(2)), "3 ids for 2 vectors"),
        (lambda s: s.add(ids_of(1), np.full((1, DIM), np.nan, np.float32)), "NaN"),
        (lambda s: s.add(np.array([-1]), vectors(1)), "non-negative"),
        (lambda s: s.add(np.array([1.5]), vectors(1)), "integers"),
        (lambda s: s.add(np.array([2**64 - 1], np.uint64), vectors(1)), "reserved"),
        (lambda s: s.add(ids_of(1), np.zeros((1, 1, DIM))), "shape"),
        (lambda s: s.add(ids_of(1), [["x"] * DIM]), "real numbers"),
        (lambda s: s.add(ids_of(1), vectors(1), namespace=""), "namespace"),
        (lambda s: s.search(vectors(1), k=0), "k must be"),
        (lambda s: s.search(vectors(1, dim=3), k=1), "shape"),
        (lambda s: s.search(np.full(DIM, np.inf, np.float32), k=1), "NaN or infinity"),
        (lambda s: s.remove(np.array([[1, 2]])), "1-D"),
    ],
)
def test_bad_input_is_a_value_error(make, call, match):
    store = make(DIM, "cosine")
    store.add(ids_of(4), vectors(4))
    with pytest.raises(ValueError, match=match):
        call(store)
    assert store.count() == 4


@pytest.mark.parametrize("bad", [{"dim": 0}, {"dim": -3}, {"dim": 2.5}, {"dim": 4, "metric": "hamming"}])
def test_bad_construction_is_a_value_error(make, bad):
    with pytest.raises(ValueError):
        make(bad["dim"], bad.get("metric", "cosine"))


@pytest.mark.parametrize("name", sorted(PEERS))
def test_missing_library_names_the_extra(name, monkeypatch):
    cls, module = PEERS[name]
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, f"{module}.index", None)
    with pytest.raises(ImportError, match=rf"pip install 'dejacache\[{name}\]'"):
        cls(DIM)


def test_loading_another_stores_file_is_refused(tmp_path):
    pytest.importorskip("faiss")
    pytest.importorskip("hnswlib")
    store = FaissStore(DIM)
    store.add(ids_of(3), vectors(3))
    store.save(tmp_path / "s")
    with pytest.raises(ValueError, match="FaissStore"):
        HnswlibStore.load(tmp_path / "s")


def test_vectorstores_module_loads_lazily_and_imports_no_peer():
    import subprocess

    code = (
        "import sys, dejacache; assert 'dejacache.vectorstores' not in sys.modules; "
        "dejacache.vectorstores.BuiltinStore; "
        "assert not {'hnswlib', 'usearch', 'faiss'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_concurrent_writes_never_pair_an_id_with_another_vectors_score(make, rounds):
    # Writers add, replace and remove ids while readers search; every (id, score) a search
    # returns must be the score of that id's vector at some moment (each id has one vector
    # for life here), never another row's: a cache serving ids by score relies on it.
    store = make(DIM, "dot")
    rows = vectors(400, seed=5)
    queries = vectors(20, seed=6)
    truth = queries.astype(np.float64) @ rows.astype(np.float64).T
    store.add(np.arange(200, dtype=np.uint64), rows[:200])
    mismatches = []

    def writer(seed):
        rng = np.random.default_rng(seed)
        for _ in range(round(60 * rounds)):
            ids = rng.choice(400, 8, replace=False).astype(np.uint64)
            if rng.random() < 0.5:
                store.add(ids, rows[ids.astype(np.int64)])
            else:
                store.remove(ids)

    def reader(seed):
        for n in range(round(150 * rounds)):
            qi = (n + seed) % len(queries)
            ids, scores = store.search(queries[qi], k=5)
            for i, s in zip(ids.reshape(-1).tolist(), scores.reshape(-1).tolist()):
                if i != EMPTY_ID and not np.isclose(s, truth[qi, i], rtol=1e-3, atol=1e-3):
                    mismatches.append((qi, i, s, truth[qi, i]))

    run_threads(*[(writer, s) for s in range(2)], *[(reader, s) for s in range(3)], timeout=120)
    assert not mismatches, mismatches[:5]


def test_add_many_stores_what_add_would(make, metric):
    # 1100 distinct ids: past BuiltinStore.parallel_add_from, so its threaded bulk build runs.
    store = make(DIM, metric)
    rows = vectors(1100, seed=11)
    store.add_many(ids_of(1100), rows, namespace="bulk")
    assert store.count("bulk") == 1100 and store.count() == 0
    ids, _ = store.search(rows, k=1, namespace="bulk")
    assert np.mean(ids[:, 0] == ids_of(1100)) >= 0.95
    store.add_many(np.array([3, 3], np.uint64), vectors(2, seed=12), namespace="bulk")  # repeated: the last stays
    assert store.count("bulk") == 1100
    ids, _ = store.search(vectors(2, seed=12)[1], k=1, namespace="bulk")
    assert int(ids[0]) == 3


def test_a_store_declaring_ordered_results_lists_best_first(make, metric):
    store = make(DIM, metric)
    store.add(ids_of(300), vectors(300, seed=13))
    _, scores = store.search(vectors(20, seed=14), k=10)
    assert all(best_first(metric, row) for row in scores) or not store.ordered_results
    assert isinstance(store.ordered_results, bool)
