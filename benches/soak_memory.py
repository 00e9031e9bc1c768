"""Memory soak of the exact cache: RSS per 10^5 operations, per eviction policy and workload.

    python benches/soak_memory.py                     # 10^6 operations per run, bound 16 MiB
    python benches/soak_memory.py --ops 200000 --bound-mib 8

Each run writes into a cache capped at 1,000 entries (so the live data is constant), in a fresh
subprocess so runs do not share an allocator. After a warm-up of 10^5 operations, RSS may grow by
at most ``--bound-mib``; the script prints every run's RSS curve and exits 1 if any run passed the
bound. Workloads: ``put`` (writes only), ``put+get`` (each entry read after its write, the
workload that leaked before issue 15), ``ns-get`` (reads under a new namespace name each time,
nothing stored).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

STEP = 100_000
POLICIES = ("lru", "lfu", "fifo")
WORKLOADS = ("put", "put+get", "ns-get")

_CHILD = r"""
import json, sys
import dejacache

def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

policy, workload, ops, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = dejacache.Cache(max_entries=1000, eviction=policy)
curve = [rss_kib()]
for i in range(ops):
    if workload == "ns-get":
        c.get({"q": i}, namespace=f"tenant-{i}")
    else:
        c.put({"q": i}, i)
        if workload == "put+get":
            c.get({"q": i})
    if (i + 1) % step == 0:
        curve.append(rss_kib())
c.clear()
c.stats()
curve.append(rss_kib())
print(json.dumps(curve))
"""


def run(policy: str, workload: str, ops: int, step: int = STEP) -> list[int]:
    """RSS in KiB at the start, after every ``step`` operations, and after ``clear()``."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, policy, workload, str(ops), str(step)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return json.loads(out.stdout)


def growth_kib(curve: list[int]) -> int:
    """Growth after the warm-up step (the first ``step`` operations fill the cache)."""
    return max(curve[2:]) - curve[1] if len(curve) > 2 else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=1_000_000)
    ap.add_argument("--bound-mib", type=float, default=16.0)
    args = ap.parse_args(argv)
    failed = False
    for policy in POLICIES:
        for workload in WORKLOADS:
            curve = run(policy, workload, args.ops)
            grew = growth_kib(curve) / 1024
            ok = grew <= args.bound_mib
            failed |= not ok
            mib = " ".join(f"{k / 1024:.1f}" for k in curve)
            print(f"{policy:4} {workload:8} growth {grew:6.1f} MiB {'ok' if ok else 'OVER'}  RSS MiB: {mib}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
