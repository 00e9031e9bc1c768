"""VectorIndex: API, bad input, namespaces, persistence, recall and concurrency."""

import os
import threading

import numpy as np
import pytest
from dejacache import VectorIndex

NO_ID = 2**64 - 1
KINDS = ["flat", "hnsw", "auto"]
DTYPES = ["f32", "f16", "i8"]
METRICS = ["cosine", "dot", "l2"]


def clustered(n, dim, clusters=50, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    return (centres[labels] + 0.35 * rng.standard_normal((n, dim))).astype(np.float32)


def exact(data, queries, k, metric):
    if metric == "cosine":
        d = data / np.linalg.norm(data, axis=1, keepdims=True)
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        s = -(q @ d.T)
    elif metric == "dot":
        s = -(queries @ data.T)
    else:
        s = (queries**2).sum(1)[:, None] + (data**2).sum(1)[None, :] - 2 * queries @ data.T
    return np.argsort(s, axis=1)[:, :k]


def recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("metric", METRICS)
def test_add_search_all_configs(kind, dtype, metric):
    data = clustered(600, 24)
    idx = VectorIndex(24, metric=metric, kind=kind, dtype=dtype)
    idx.add(np.arange(600, dtype=np.uint64), data)
    assert len(idx) == 600
    ids, scores = idx.search(data[:50], k=5)
    assert ids.shape == (50, 5) and ids.dtype == np.uint64 and scores.dtype == np.float32
    truth = exact(data, data[:50], 5, metric)
    assert recall(ids, truth) >= 0.9
    # best first: similarities descend, distances ascend
    order = -scores if metric != "l2" else scores
    assert np.all(np.diff(order, axis=1) >= -1e-4)


def test_scores_are_similarities_and_squared_distances():
    v = np.array([[3.0, 4.0], [1.0, 0.0]], dtype=np.float32)
    q = np.array([1.0, 0.0], dtype=np.float32)
    for metric, want in [("cosine", {11: 1.0, 10: 0.6}), ("dot", {11: 1.0, 10: 3.0}), ("l2", {11: 0.0, 10: 20.0})]:
        idx = VectorIndex(2, metric=metric, kind="flat")
        idx.add([10, 11], v)
        ids, scores = idx.search(q, k=2)
        assert ids.shape == (2,)
        got = dict(zip(ids.tolist(), scores.tolist()))
        assert got == pytest.approx(want, abs=1e-5)


def test_unfilled_slots_and_missing_namespace():
    idx = VectorIndex(3)
    idx.add([1], [[1, 2, 3]])
    ids, scores = idx.search([1, 2, 3], k=4)
    assert ids[0] == 1 and list(ids[1:]) == [NO_ID] * 3 and np.isnan(scores[1:]).all()
    ids, scores = idx.search([1, 2, 3], k=2, namespace="nobody")
    assert list(ids) == [NO_ID, NO_ID] and np.isnan(scores).all()


@pytest.mark.parametrize("kind", KINDS)
def test_replace_and_remove(kind):
    idx = VectorIndex(2, kind=kind, metric="l2")
    idx.add([1, 2], [[0, 0], [5, 5]])
    idx.add([1], [[9, 9]])  # replaces id 1
    assert len(idx) == 2
    ids, _ = idx.search([9, 9], k=1)
    assert ids[0] == 1
    assert idx.remove([1, 77]) == 1
    assert 1 not in idx and 2 in idx and idx.contains(2) and not idx.contains(2, namespace="x")
    ids, _ = idx.search([9, 9], k=2)
    assert list(ids) == [2, NO_ID]
    assert idx.remove(np.array([2], dtype=np.int64)) == 1
    assert len(idx) == 0 and idx.namespaces() == []


def test_namespaces_isolated_full_recall():
    rng = np.random.default_rng(1)
    idx = VectorIndex(16, kind="hnsw")
    a = rng.standard_normal((300, 16)).astype(np.float32)
    b = a + 0.001  # near-duplicates in another namespace must never leak into a
    idx.add(np.arange(300, dtype=np.uint64), a, namespace="a")
    idx.add(np.arange(1000, 1300, dtype=np.uint64), b, namespace="b")
    ids, _ = idx.search(a[:20], k=10, namespace="a")
    assert (ids < 300).all()
    assert recall(ids, exact(a, a[:20], 10, "cosine")) == 1.0
    assert idx.namespaces() == ["a", "b"] and idx.count("a") == 300 and len(idx) == 600
    assert 5 not in idx and idx.contains(5, namespace="a")


def test_many_small_namespaces_are_cheap():
    idx = VectorIndex(32)
    rng = np.random.default_rng(2)
    for t in range(2000):
        idx.add([t], rng.standard_normal((1, 32)).astype(np.float32), namespace=f"tenant-{t}")
    assert len(idx.namespaces()) == 2000
    assert idx.memory_bytes / 2000 < 400  # 128 bytes of vector plus bookkeeping


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda i: i.add([1], np.zeros((1, 5), np.float32)), "columns"),
        (lambda i: i.add([1, 2], np.ones((1, 4), np.float32)), "shape"),
        (lambda i: i.add([1], [[np.nan, 1, 1, 1]]), "NaN"),
        (lambda i: i.add([1], [[np.inf, 1, 1, 1]]), "NaN or infinity"),
        (lambda i: i.add([1], [[0, 0, 0, 0]]), "zero"),
        (lambda i: i.add([-1], [[1, 1, 1, 1]]), "non-negative"),
        (lambda i: i.add([1.5], [[1, 1, 1, 1]]), "integers"),
        (lambda i: i.add([2**64 - 1], [[1, 1, 1, 1]]), "reserved"),
        (lambda i: i.add([1], [["a", "b", "c", "d"]]), "numeric"),
        (lambda i: i.search([1, 1, 1], k=1), "shape"),
        (lambda i: i.search([1, 1, 1, 1], k=0), "k must be"),
        (lambda i: i.search([1, 1, 1, np.nan], k=1), "NaN"),
        (lambda i: i.search([1, 1, 1, 1], k=1, ef=0), "ef must be"),
        (lambda i: i.search([1, 1, 1, 1], k=1, threads=0), "threads must be"),
        (lambda i: i.add([1], [[1, 1, 1, 1]], threads=0), "threads must be"),
        (lambda i: i.search([1, 1, 1, 1], k=1, threads=10**6), "threads must be"),
        (lambda i: i.search([1, 1, 1, 1], k=10**9), "k must be"),
        (lambda i: i.search([1, 1, 1, 1], k=-3), "k must be at least 1"),
        (lambda i: i.search([1, 1, 1, 1], k=1, ef=-1), "ef must be at least 1"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    idx = VectorIndex(4)
    idx.add([7], [[1, 2, 3, 4]])
    with pytest.raises(ValueError, match=message):
        call(idx)
    assert len(idx) == 1  # a rejected batch changes nothing


def test_bad_constructor_arguments():
    for kwargs in [
        dict(dim=0),
        dict(dim=4, metric="hamming"),
        dict(dim=4, kind="ivf"),
        dict(dim=4, dtype="f64"),
        dict(dim=4, M=1),
    ]:
        with pytest.raises(ValueError):
            VectorIndex(**kwargs)


def test_huge_ef_is_bounded_by_the_index():
    for kind in KINDS:
        idx = VectorIndex(4, kind=kind, ef_construction=10**9)
        idx.add(np.arange(50, dtype=np.uint64), np.random.default_rng(0).standard_normal((50, 4)))
        ids, _ = idx.search([1, 2, 3, 4], k=5, ef=10**12)
        assert (ids != NO_ID).all()


def test_float64_and_list_inputs_are_converted():
    idx = VectorIndex(3, metric="dot", kind="flat")
    idx.add(np.array([4, 5], dtype=np.int32), np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float64))
    ids, scores = idx.search([[0.0, 2.0, 0.0]], k=1)
    assert ids.shape == (1, 1) and ids[0, 0] == 5 and scores[0, 0] == pytest.approx(2.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mmap", [False, True])
def test_save_load_round_trip(tmp_path, kind, dtype, mmap):
    data = clustered(500, 20)
    idx = VectorIndex(20, kind=kind, dtype=dtype, metric="l2", M=8, ef_search=40)
    idx.add(np.arange(500, dtype=np.uint64), data)
    idx.add(np.arange(500, 520, dtype=np.uint64), data[:20], namespace="other")
    idx.remove(np.arange(0, 50, dtype=np.uint64))
    path = tmp_path / "index.djv"
    idx.save(path)
    back = VectorIndex.load(str(path), mmap=mmap)
    assert (back.dim, back.kind, back.dtype, back.metric, back.M, back.ef_search) == (20, kind, dtype, "l2", 8, 40)
    assert len(back) == len(idx) and back.namespaces() == ["default", "other"]
    for ns in ["default", "other"]:
        a = idx.search(data[40:80], k=7, namespace=ns)
        b = back.search(data[40:80], k=7, namespace=ns)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    if mmap:  # vectors and level-0 links are served from the map, not copied into memory
        assert back.memory_bytes < idx.memory_bytes / 2
    # a loaded (and mapped) index stays writable; the file does not change
    before = path.read_bytes()
    back.add([9999], data[:1])
    back.remove([60])
    assert 9999 in back and 60 not in back and path.read_bytes() == before


def test_load_rejects_corrupt_truncated_and_foreign_files(tmp_path):
    idx = VectorIndex(8, kind="hnsw")
    idx.add(np.arange(200, dtype=np.uint64), clustered(200, 8))
    path = tmp_path / "good.djv"
    idx.save(path)
    good = path.read_bytes()
    cases = {
        "truncated": good[: len(good) // 2],
        "header-only": good[:64],
        "short": good[:10],
        "empty": b"",
        "foreign": b"PK\x03\x04" + os.urandom(500),
        "payload-flip": good[:-100] + bytes([good[-100] ^ 0xFF]) + good[-99:],
        "header-flip": good[:17] + bytes([good[17] ^ 1]) + good[18:],
        "extended": good + b"\0" * 64,
    }
    for name, blob in cases.items():
        bad = tmp_path / f"{name}.djv"
        bad.write_bytes(blob)
        for mmap in (False, True):
            with pytest.raises(ValueError, match="not a valid dejacache vector index"):
                VectorIndex.load(bad, mmap=mmap)
    with pytest.raises(FileNotFoundError):
        VectorIndex.load(tmp_path / "missing.djv")


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    idx = VectorIndex(4)
    idx.add([1], [[1, 2, 3, 4]])
    path = tmp_path / "i.djv"
    idx.save(path)
    idx.add([2], [[4, 3, 2, 1]])
    idx.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.djv"]
    assert len(VectorIndex.load(path)) == 2
    with pytest.raises(OSError):
        idx.save(tmp_path / "no-such-dir" / "i.djv")


def test_hnsw_recall_at_10_on_clustered_data():
    data = clustered(10000, 64, clusters=100)
    rng = np.random.default_rng(5)
    queries = data[rng.integers(0, 10000, 200)] + 0.2 * rng.standard_normal((200, 64)).astype(np.float32)
    truth = exact(data, queries, 10, "cosine")
    idx = VectorIndex(64, kind="hnsw")
    idx.add(np.arange(10000, dtype=np.uint64), data)
    ids, _ = idx.search(queries, k=10)
    assert recall(ids, truth) >= 0.95
    ids_threads, _ = idx.search(queries, k=10, threads=3)
    np.testing.assert_array_equal(ids, ids_threads)
    built_in_parallel = VectorIndex(64, kind="hnsw")
    built_in_parallel.add(np.arange(10000, dtype=np.uint64), data, threads=2)
    ids, _ = built_in_parallel.search(queries, k=10)
    assert recall(ids, truth) >= 0.95


def test_i8_flat_rerank_is_exact():
    data = clustered(3000, 48)
    rng = np.random.default_rng(6)
    queries = data[:100] + 0.3 * rng.standard_normal((100, 48)).astype(np.float32)
    idx = VectorIndex(48, kind="flat", dtype="i8")
    idx.add(np.arange(3000, dtype=np.uint64), data)
    ids, _ = idx.search(queries, k=10)
    assert recall(ids, exact(data, queries, 10, "cosine")) == 1.0


def test_auto_switches_to_a_graph_and_keeps_recall():
    data = clustered(6000, 32)
    idx = VectorIndex(32, kind="auto")
    idx.add(np.arange(6000, dtype=np.uint64), data)
    flat_bytes = VectorIndex(32, kind="flat")
    flat_bytes.add(np.arange(6000, dtype=np.uint64), data)
    assert idx.memory_bytes > flat_bytes.memory_bytes  # links were added: it is a graph now
    ids, _ = idx.search(data[:100], k=10)
    assert recall(ids, exact(data, data[:100], 10, "cosine")) >= 0.95


@pytest.mark.timeout(120)
def test_sixteen_threads_search_and_write():
    dim = 32
    data = clustered(3000, dim)
    idx = VectorIndex(dim, kind="hnsw", M=8, ef_construction=64)
    idx.add(np.arange(1000, dtype=np.uint64), data[:1000])
    errors = []
    removed = set(range(0, 1000, 7))

    def searcher():
        try:
            for i in range(150):
                ids, _ = idx.search(data[i % 1000], k=5)
                assert (ids != NO_ID).all()
        except Exception as e:  # reported below: a thread's failure must fail the test
            errors.append(e)

    def writer(w):
        try:
            for j in range(25):
                lo = 1000 + (w * 25 + j) * 8
                idx.add(np.arange(lo, lo + 8, dtype=np.uint64), data[lo : lo + 8])
            idx.remove(np.array(sorted(removed), dtype=np.uint64)[w::4])
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=searcher) for _ in range(12)] + [
        threading.Thread(target=writer, args=(w,)) for w in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(idx) == 1000 + 4 * 25 * 8 - len(removed)
    ids, _ = idx.search(data[:1000], k=10, threads=4)
    assert not (set(ids.ravel().tolist()) & removed)


# The forked child finds the parent's index here (fork copies the module's memory).
_FORK_STATE = {}


def _search_in_child(n):
    idx, data = _FORK_STATE["index"], _FORK_STATE["data"]
    more = np.arange(5000, 5100, dtype=np.uint64)
    idx.add(more, data[:100] + 0.5, threads=2)
    idx.remove(more)
    return idx.search(data[:n], k=3, threads=2)[0].tolist()


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_threads_work_in_a_forked_child():
    import multiprocessing

    data = clustered(3000, 16)
    idx = VectorIndex(16, kind="hnsw", M=8, ef_construction=50)
    idx.add(np.arange(3000, dtype=np.uint64), data, threads=2)
    idx.search(data[:10], k=3, threads=2)  # threads were used in the parent before the fork
    _FORK_STATE.update(index=idx, data=data)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            child = pool.apply(_search_in_child, (50,))
    finally:
        _FORK_STATE.clear()
    assert child == idx.search(data[:50], k=3, threads=2)[0].tolist()
