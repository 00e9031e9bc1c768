"""Damaged-file fuzzer for the saved index format (issue 15, "keep finding them").

Saved indexes get bytes flipped, cut off or appended, then are loaded mapped and not, and used.
Every load must raise an ordinary exception or give a working index: never a panic
(BaseException), a crash or a hang. The loads run in a subprocess, where a crash would otherwise
kill pytest; the subprocess reports what it saw. ``DEJACACHE_FUZZ_ROUNDS`` sets the rounds per
file (default 150, fast enough for CI); the Rust twin is persist.rs's resealed-damage test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from dejacache._core import VectorIndex

ROUNDS = int(os.environ.get("DEJACACHE_FUZZ_ROUNDS", "150"))

_CHILD = textwrap.dedent(r"""
    import json, os, random, sys
    import numpy as np
    from dejacache._core import VectorIndex

    good_path, work, rounds, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    good = open(good_path, "rb").read()
    rng = random.Random(seed)
    seen = {"loaded": 0, "refused": {}, "bad": []}
    for r in range(rounds):
        data = bytearray(good)
        how = rng.choice(["flip", "flip-header", "truncate", "extend", "zero-run"])
        if how == "flip":
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif how == "flip-header":
            data[rng.randrange(64)] ^= 1 << rng.randrange(8)
        elif how == "truncate":
            del data[rng.randrange(len(data)):]
        elif how == "extend":
            data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
        else:
            start = rng.randrange(len(data))
            data[start:start + rng.randint(1, 64)] = bytes(min(64, len(data) - start))
        path = os.path.join(work, f"bad-{r % 4}.djv")
        with open(path, "wb") as f:
            f.write(data)
        for mmap in (False, True):
            try:
                idx = VectorIndex.load(path, mmap=mmap)
            except (ValueError, OSError) as e:
                name = type(e).__name__
                seen["refused"][name] = seen["refused"].get(name, 0) + 1
                continue
            except BaseException as e:
                seen["bad"].append(f"{how} mmap={mmap}: {type(e).__name__}: {e}"[:300])
                continue
            seen["loaded"] += 1
            try:
                for ns in [None, *idx.namespaces()]:
                    idx.search(np.ones((2, idx.dim), np.float32), k=3, namespace=ns)
                idx.add([10**6], np.ones((1, idx.dim), np.float32))
                idx.remove([1, 2])
            except Exception:
                pass  # an ordinary exception from a damaged but loadable file is fine
            except BaseException as e:
                seen["bad"].append(f"{how} mmap={mmap} (use): {type(e).__name__}: {e}"[:300])
    print(json.dumps(seen))
""")


def _index(kind: str, dtype: str) -> VectorIndex:
    rng = np.random.default_rng(3)
    idx = VectorIndex(8, metric="l2", kind=kind, dtype=dtype, M=4, ef_construction=16)
    idx.add(np.arange(80, dtype=np.uint64), rng.standard_normal((80, 8)).astype(np.float32))
    idx.add(np.arange(5, dtype=np.uint64), rng.standard_normal((5, 8)).astype(np.float32), namespace="other")
    idx.remove([3, 4])
    return idx


@pytest.mark.parametrize("kind, dtype", [("hnsw", "f32"), ("hnsw", "i8"), ("flat", "f16")])
def test_damaged_index_files_are_refused_or_usable_never_a_crash(tmp_path: Path, kind: str, dtype: str) -> None:
    good = tmp_path / "good.djv"
    _index(kind, dtype).save(good)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(good), str(tmp_path), str(ROUNDS), str(len(kind + dtype))],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"the loader crashed (exit {out.returncode}): {out.stderr[-3000:]}"
    seen = json.loads(out.stdout)
    assert seen["bad"] == [], seen["bad"][:5]
    assert sum(seen["refused"].values()) > 0  # the fuzzer does damage files
