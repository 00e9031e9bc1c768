"""dejacache.distance against float64 numpy references, over shapes, dtypes and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from dejacache import _core, distance
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def ref(metric: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 reference with the same broadcasting rules as dejacache.distance."""
    a64, b64 = np.atleast_2d(a.astype(np.float64)), np.atleast_2d(b.astype(np.float64))
    if metric == "dot":
        out = a64 @ b64.T
    elif metric == "l2":
        out = ((a64[:, None, :] - b64[None, :, :]) ** 2).sum(-1)
    else:
        na, nb = np.linalg.norm(a64, axis=1), np.linalg.norm(b64, axis=1)
        denom = np.outer(na, nb)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(denom == 0, 0.0, (a64 @ b64.T) / np.where(denom == 0, 1, denom))
    if a.ndim == 1 and b.ndim == 1:
        return out[0, 0]
    if a.ndim == 1:
        return out[0]
    if b.ndim == 1:
        return out[:, 0]
    return out


def scale(metric: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The size of f32 rounding error for each result: sums of absolute terms."""
    a64, b64 = np.abs(np.atleast_2d(a.astype(np.float64))), np.abs(np.atleast_2d(b.astype(np.float64)))
    if metric == "cosine":
        return np.float64(1.0)
    if metric == "dot":
        s = a64 @ b64.T
    else:
        s = (a64**2).sum(1)[:, None] + (b64**2).sum(1)[None, :]
    if a.ndim == 1 and b.ndim == 1:
        return s[0, 0]
    return s.reshape(np.shape(ref(metric, a, b)))


METRICS = {"cosine": distance.cosine, "dot": distance.dot, "l2": distance.l2}

elements = st.floats(-1e4, 1e4, width=32, allow_subnormal=False)


@st.composite
def operands(draw, dtype=np.float32, elems=elements):
    dim = draw(st.integers(1, 600))
    shape_a = draw(st.sampled_from([(dim,), (draw(st.integers(0, 6)), dim)]))
    shape_b = draw(st.sampled_from([(dim,), (draw(st.integers(1, 6)), dim)]))
    a = draw(hnp.arrays(dtype, shape_a, elements=elems))
    b = draw(hnp.arrays(dtype, shape_b, elements=elems))
    return a, b


@settings(max_examples=150, deadline=None)
@given(operands(), st.sampled_from(sorted(METRICS)))
def test_float32_matches_numpy(ab, metric):
    a, b = ab
    got = METRICS[metric](a, b)
    want = ref(metric, a, b)
    if a.ndim == 1 and b.ndim == 1:
        assert isinstance(got, float)
    else:
        assert got.dtype == np.float32 and got.shape == np.shape(want)
    assert np.all(np.abs(np.asarray(got, np.float64) - want) <= 1e-4 * scale(metric, a, b) + 1e-6)


@settings(max_examples=60, deadline=None)
@given(operands(np.float16, st.floats(-100, 100, width=16)), st.sampled_from(sorted(METRICS)))
def test_float16_matches_numpy(ab, metric):
    a, b = ab
    got = METRICS[metric](a, b)
    want = ref(metric, a, b)
    assert np.all(np.abs(np.asarray(got, np.float64) - want) <= 1e-4 * scale(metric, a, b) + 1e-6)


@settings(max_examples=60, deadline=None)
@given(operands(np.int8, st.integers(-128, 127)), st.sampled_from(sorted(METRICS)))
def test_int8_is_exact(ab, metric):
    a, b = ab
    got = METRICS[metric](a, b)
    if not isinstance(got, float):
        assert got.dtype == np.float64
    want = ref(metric, a, b)
    tol = 1e-6 if metric == "cosine" else 0
    assert np.all(np.abs(got - want) <= tol)


def test_int8_batches_stay_exact_past_float32_precision():
    a, b = np.full((2, 600), -128, np.int8), np.full(600, 127, np.int8)
    assert distance.l2(a, b).tolist() == [600 * 255**2] * 2  # 39015000 > 2**24
    assert distance.dot(a, a).tolist() == [[600 * 128**2] * 2] * 2


def test_float32_contiguous_arrays_take_the_zero_copy_path():
    a = np.ones(8, np.float32)
    assert _core.distance_dot(a, a) == 8.0
    assert _core.distance_dot(np.ones((3, 8), np.float32), a).tolist() == [8.0] * 3
    # Everything else is left to distance.py, which converts once.
    assert _core.distance_dot(a.astype(np.float64), a) is NotImplemented
    assert _core.distance_dot(np.ones(16, np.float32)[::2], a) is NotImplemented
    assert _core.distance_dot([1.0] * 8, a) is NotImplemented


@pytest.mark.parametrize(
    "a, b",
    [
        ([1, 2, 3], [4, 5, 6]),
        (np.arange(3, dtype=np.float64), np.arange(3, dtype=np.int64)),
        (np.arange(6, dtype=np.float32)[::2], np.ones(3, np.float32)),
        (np.arange(3, dtype=">f4"), np.ones(3, np.float32)),
        (np.arange(3, dtype=">f2"), np.ones(3, ">f2")),
        (np.arange(3, dtype=np.float16), np.ones(3, np.float32)),
        (np.arange(3, dtype=np.int8), np.ones(3, np.uint8)),
    ],
)
def test_other_inputs_are_converted_once(a, b):
    want = float(np.dot(np.asarray(a, np.float64), np.asarray(b, np.float64)))
    assert distance.dot(a, b) == pytest.approx(want)


def test_fortran_order_and_transposed_batches():
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((5, 7)).astype(np.float32))
    b = rng.standard_normal((4, 7)).astype(np.float32)
    np.testing.assert_allclose(distance.l2(a, b), ref("l2", a, b), rtol=1e-5)
    np.testing.assert_allclose(distance.cosine(b.T.T, a), ref("cosine", b, a), atol=1e-6)


def test_zero_vectors_have_cosine_zero():
    z = np.zeros(384, np.float32)
    assert distance.cosine(z, np.ones(384, np.float32)) == 0.0
    assert distance.cosine(np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32)).tolist() == [[0.0] * 4] * 2


def test_empty_batch_gives_empty_result():
    out = distance.dot(np.zeros((0, 4), np.float32), np.ones(4, np.float32))
    assert out.shape == (0,)
    for dtype in (np.float32, np.float16, np.int8):
        empty, full = np.zeros((0, 4), dtype), np.ones((3, 4), dtype)
        assert distance.dot(empty, full).shape == (0, 3)
        assert distance.dot(full, empty).shape == (3, 0)
        assert distance.cosine(empty, empty).shape == (0, 0)


def test_large_batch_is_right():
    """Large enough that the GIL is released during the work."""
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((3000, 384)).astype(np.float32)
    q = rng.standard_normal(384).astype(np.float32)
    np.testing.assert_allclose(distance.dot(rows, q), rows.astype(np.float64) @ q, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(distance.cosine(q, rows), ref("cosine", q, rows), atol=1e-5)


def test_a_result_too_large_for_memory_is_a_memory_error():
    # 2**24 x 2**24 float32 results need 4 PiB: more than any address space, whatever the
    # overcommit policy, so the allocation fails before anything is touched.
    a = np.ones((2**24, 1), np.float32)
    with pytest.raises(MemoryError, match="smaller batches"):
        distance.dot(a, a)


def test_overflow_of_finite_input_is_not_an_error():
    big = np.full(4, 1e30, np.float32)
    assert distance.dot(big, big) == float("inf")
    assert distance.cosine(big, big) == 1.0


@pytest.mark.parametrize("metric", sorted(METRICS))
@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.ones(3, np.float32), np.ones(4, np.float32), "dimension mismatch"),
        (np.ones((2, 3), np.float32), np.ones((2, 4), np.float32), "dimension mismatch"),
        (np.float32(1.0), np.ones(1, np.float32), "1-D vectors or 2-D"),
        (np.ones((2, 2, 2), np.float32), np.ones(2, np.float32), "1-D vectors or 2-D"),
        (np.ones(0, np.float32), np.ones(0, np.float32), "0 dimensions"),
        (np.array([1.0, np.nan], np.float32), np.ones(2, np.float32), "a holds NaN or infinity"),
        (np.ones(2, np.float32), np.array([[1, 1], [np.inf, 1]], np.float32), r"b holds NaN .*vector 1"),
        (np.array([1.0, np.nan], np.float16), np.ones(2, np.float16), "NaN or infinity"),
        (np.array([1.0, np.nan]), [1, 2], "NaN or infinity"),
    ],
)
def test_bad_input_raises_value_error(metric, a, b, match):
    with pytest.raises(ValueError, match=match):
        METRICS[metric](a, b)


@pytest.mark.parametrize("bad", [["a", "b"], np.array([1 + 1j, 2]), np.array([True, False])])
def test_non_numeric_input_raises_type_error(bad):
    with pytest.raises(TypeError, match="real numbers"):
        distance.cosine(bad, [1.0, 2.0])


def test_simd_level_is_named():
    assert distance.simd_level() in {"avx512", "avx2+fma", "neon", "scalar"}


@pytest.mark.parametrize("level", ["scalar", "avx2+fma"])
def test_a_slower_kernel_set_can_be_forced_and_agrees(level):
    """DEJACACHE_SIMD picks a supported set (else the fastest); every set gives the same answers."""
    import subprocess
    import sys

    code = (
        "import numpy as np; from dejacache import distance; "
        "r = np.random.default_rng(3); a = r.standard_normal((50, 37)).astype(np.float32); "
        "q = r.standard_normal(37).astype(np.float32); "
        "print(distance.simd_level()); print(repr(distance.cosine(a, q).tolist())); "
        "print(repr(distance.dot(a.astype(np.int8), q.astype(np.int8)).tolist()))"
    )
    env = dict(__import__("os").environ, DEJACACHE_SIMD=level)
    forced = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got_level, got_cos, got_i8 = forced.stdout.splitlines()
    _, want_cos, want_i8 = default.stdout.splitlines()
    if level == "avx2+fma" and distance.simd_level() in ("scalar", "neon"):
        assert got_level == distance.simd_level()
    else:
        assert got_level == level
    np.testing.assert_allclose(eval(got_cos), eval(want_cos), atol=1e-5)
    assert got_i8 == want_i8


def test_submodules_load_lazily():
    import subprocess
    import sys

    code = (
        "import sys, dejacache; "
        "assert 'dejacache.distance' not in sys.modules and 'dejacache.sampling' not in sys.modules; "
        "dejacache.distance.dot; dejacache.sampling.softmax; "
        "assert 'dejacache.distance' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.timeout(60)
def test_batches_release_the_gil():
    """Another Python thread runs while a large batch is computed (never while a small one is)."""
    import sys
    import threading
    import time

    rows = np.random.default_rng(0).standard_normal((50_000, 384)).astype(np.float32)
    q = rows[0].copy()
    small = rows[:4].copy()
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0)  # hands the GIL back so the main thread can resume

    old = sys.getswitchinterval()
    # The main thread keeps the GIL unless the call itself lets go of it.
    sys.setswitchinterval(100.0)
    thread = threading.Thread(target=spin)
    try:
        thread.start()
        time.sleep(0.01)
        ran_during_small = ran_during_large = 0
        for _ in range(20):
            before = ticks[0]
            distance.dot(small, q)
            ran_during_small += ticks[0] != before
            before = ticks[0]
            distance.dot(rows, q)
            ran_during_large += ticks[0] != before
    finally:
        stop.set()
        sys.setswitchinterval(old)
        thread.join()
    assert ran_during_large > 0
    assert ran_during_small == 0
