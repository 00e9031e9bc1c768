"""Hostile arrays, integers and files for the compiled bindings (issue 15, items 2, 10, 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from dejacache import distance
from dejacache._core import EntryStore, HashingEmbedder, VectorIndex


def _rows(n: int = 100, dim: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


# -- item 2: memory layouts -----------------------------------------------------------------


def _layouts(x: np.ndarray) -> dict[str, np.ndarray]:
    wide = np.zeros((x.shape[0] * 2, x.shape[1] * 3), dtype=np.float32)
    wide[::2, ::3] = x
    return {
        "fortran": np.asfortranarray(x),
        "transposed view": np.ascontiguousarray(x.T).T,
        "strided slice": wide[::2, ::3],
        "float64 fortran": np.asfortranarray(x.astype(np.float64)),
    }


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("layout", ["fortran", "transposed view", "strided slice", "float64 fortran"])
def test_add_and_search_read_any_layout_as_rows(kind: str, layout: str) -> None:
    x = _rows()
    ids = np.arange(len(x), dtype=np.uint64)
    odd = _layouts(x)[layout]
    assert not odd.flags.c_contiguous or odd.dtype != np.float32
    idx = VectorIndex(16, kind=kind)
    idx.add(ids, odd)
    found, _ = idx.search(x, k=1)
    assert (found[:, 0] == ids).all()
    found, _ = idx.search(odd, k=1)
    assert (found[:, 0] == ids).all()


@pytest.mark.parametrize("layout", ["fortran", "transposed view", "strided slice"])
def test_distances_read_any_layout_as_rows(layout: str) -> None:
    a, b = _rows(7, 8, 1), _rows(5, 8, 2)
    want = distance.cosine(a, b)
    np.testing.assert_allclose(distance.cosine(_layouts(a)[layout], _layouts(b)[layout]), want, rtol=1e-5)
    np.testing.assert_allclose(distance.l2(_layouts(a)[layout], b), distance.l2(a, b), rtol=1e-5)


# -- item 10: integers out of range ---------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: VectorIndex(dim=-1),
        lambda: VectorIndex(dim=2**64),
        lambda: VectorIndex(8, M=2**70),
        lambda: VectorIndex(8, ef_construction=2**63),
        lambda: VectorIndex(8, ef_search=-5),
        lambda: HashingEmbedder(dim=2**64),
        lambda: HashingEmbedder(min_n=-1),
        lambda: EntryStore(max_entries=2**64),
        lambda: EntryStore(max_bytes=-1),
    ],
)
def test_constructor_integers_out_of_range_are_value_errors(make) -> None:
    with pytest.raises(ValueError, match="at most"):
        make()


@pytest.mark.parametrize(
    "kwargs", [{"k": 2**64}, {"k": -1}, {"k": 2**200}, {"ef": 2**64}, {"threads": 2**70}, {"threads": 0}]
)
def test_search_integers_out_of_range_are_value_errors(kwargs: dict) -> None:
    idx = VectorIndex(4)
    idx.add([1], np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match="at most"):
        idx.search(np.ones(4, np.float32), **kwargs)
    with pytest.raises(ValueError, match="at most"):
        idx.add([2], np.ones((1, 4), np.float32), threads=2**70)


def test_integer_arguments_keep_type_errors_and_defaults() -> None:
    idx = VectorIndex(4)
    with pytest.raises(TypeError):
        idx.search(np.ones(4, np.float32), k="3")
    with pytest.raises(TypeError):
        VectorIndex("4")
    assert (idx.M, idx.ef_construction, idx.ef_search) == (16, 200, 64)
    assert HashingEmbedder().dim == 512
    assert not idx.contains(-1) and not idx.contains(2**64) and (-1 not in idx)


# -- item 12: mapped files changed in place -------------------------------------------------


def _saved(path: Path, seed: int, n: int = 300) -> None:
    idx = VectorIndex(16, kind="hnsw")
    idx.add(np.arange(n, dtype=np.uint64), _rows(n, 16, seed))
    idx.save(path)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("change", ["rewrite", "truncate", "extend"])
def test_a_mapped_file_changed_in_place_raises_oserror(tmp_path: Path, change: str) -> None:
    # In a subprocess: before the fix, a rewrite panicked (BaseException) and a truncation was
    # SIGBUS, which would kill pytest itself.
    path, other = tmp_path / "a.djv", tmp_path / "b.djv"
    _saved(path, 0)
    _saved(other, 1)
    out = _run(f"""
        import os, time
        import numpy as np
        from dejacache._core import VectorIndex
        idx = VectorIndex.load({str(path)!r}, mmap=True)
        q = np.ones(16, np.float32)
        idx.search(q, k=3)
        time.sleep(0.02)  # past the file system's timestamp granularity
        change = {change!r}
        if change == "rewrite":
            with open({str(path)!r}, "r+b") as f:
                f.write(open({str(other)!r}, "rb").read())
        elif change == "truncate":
            os.truncate({str(path)!r}, 100)
        else:
            with open({str(path)!r}, "ab") as f:
                f.write(b"x" * 4096)
        for call in (lambda: idx.search(q, k=3), lambda: idx.add([7], q[None, :]), lambda: idx.remove([1]),
                     lambda: idx.save({str(tmp_path / "c.djv")!r})):
            try:
                call()
            except OSError as e:
                assert "changed in place" in str(e), e
            else:
                raise SystemExit("a call on the changed file succeeded")
        print("refused")
    """)
    assert out.returncode == 0 and out.stdout.strip() == "refused", out.stderr[-2000:]


def test_a_mapped_file_replaced_by_rename_keeps_serving(tmp_path: Path) -> None:
    path, other = tmp_path / "a.djv", tmp_path / "b.djv"
    _saved(path, 0)
    idx = VectorIndex.load(path, mmap=True)
    _saved(other, 1)
    os.replace(other, path)
    _saved(path, 2)  # save() itself replaces by rename
    ids, _ = idx.search(_rows(300, 16, 0)[:5], k=1)
    assert (ids[:, 0] == np.arange(5)).all()
