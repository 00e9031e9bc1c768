"""Shared by the benchmarks: refuse debug builds, and print each peer's ratio to dejacache.

Run: pytest benches/ --benchmark-only
Each benchmark group holds one dejacache case (name starting with ``test_dejacache``) and the
peers measured in the same run; the summary prints peer median / dejacache median.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at litellm import
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
from dejacache import _core


def pytest_configure(config):
    if _core.DEBUG_BUILD:
        raise pytest.UsageError(
            "dejacache is a debug build: reinstall with `pip install .` (release) before benchmarking"
        )


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or "", []).append(bench)
    tr = terminalreporter
    tr.section("dejacache vs peers (median; ratio = peer / dejacache, higher means dejacache is faster)")
    for group, benches in sorted(groups.items()):
        ours = [b for b in benches if b.name.startswith("test_dejacache")]
        if not ours:
            continue
        base = ours[0].stats.median
        tr.write_line(f"[{group}] dejacache {base * 1e6:.2f} us")
        for b in benches:
            if b is ours[0]:
                continue
            tr.write_line(f"    {b.name:<45} {b.stats.median * 1e6:10.2f} us   x{b.stats.median / base:8.1f}")
