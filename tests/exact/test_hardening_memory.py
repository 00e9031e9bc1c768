"""Memory bounds of the exact store (issue 15, items 1 and 7): reads must not grow it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dejacache
import pytest

_SOAK = Path(__file__).resolve().parents[2] / "benches" / "soak_memory.py"


def _soak():
    spec = importlib.util.spec_from_file_location("soak_memory", _SOAK)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("policy, workload", [("lru", "put+get"), ("fifo", "put+get"), ("lru", "ns-get")])
def test_soak_rss_stays_flat(policy: str, workload: str) -> None:
    # Before the fix, lru put+get grew 4.9 MiB and ns-get 36 MiB over the 10^5 operations after
    # the warm-up; now both stay flat. The live data is a constant 1,000 entries.
    soak = _soak()
    curve = soak.run(policy, workload, 150_000, step=50_000)
    assert soak.growth_kib(curve) < 2 * 1024, curve


def test_reads_under_new_namespaces_are_bounded_and_counted() -> None:
    c = dejacache.Cache()
    c.put({"q": 1}, 1, namespace="real")
    for i in range(5_000):
        assert c.get({"q": 1}, namespace=f"tenant-{i}") is None
    st = c.stats()
    assert st["misses"] == 5_000
    assert len(st["namespaces"]) <= 1 + 1024
    assert st["namespaces"]["tenant-0"]["misses"] == 1  # the first names are still listed
    c.clear()
    st = c.stats()
    assert list(st["namespaces"]) == ["real"] and st["misses"] == 5_000 and st["stores"] == 1
