"""Child processes of the SQL store tests (run by path: ``python _worker.py MODE ...``).

- ``acked PATH PREFIX N``: N puts into the SQLite file; prints each key after ``put`` returned.
- ``mixed SPEC WORKER ROUNDS``: mixed operations on a shared store (SPEC: a sqlite path or a
  SQLAlchemy URL); prints a JSON summary of what it did.
"""

from __future__ import annotations

import json
import random
import sys


def open_store(spec: str):
    if "://" in spec and not spec.startswith("sqlite:"):
        from dejacache.stores._sql import SQLStore

        table = None
        if "#" in spec:
            spec, table = spec.split("#", 1)
        return SQLStore(spec, table=table) if table else SQLStore(spec)
    from dejacache.stores._sqlite import SQLiteStore

    return SQLiteStore(spec)


def key(worker: int, i: int) -> str:
    return f"{worker:08x}{i:024x}"


def acked(path: str, prefix: str, n: int) -> None:
    from dejacache.stores._sqlite import SQLiteStore

    store = SQLiteStore(path)
    for i in range(n):
        k = f"{prefix}{i:08x}"
        store.put(k, "crash", b'{"v":1,"r":"%s"}' % k.encode(), 1000.0 + i)
        sys.stdout.write(k + "\n")
        sys.stdout.flush()


def mixed(spec: str, worker: int, rounds: int) -> None:
    store = open_store(spec)
    rng = random.Random(worker)
    live: set[int] = set()
    hits = misses = stored = 0
    now = 1000.0
    for i in range(rounds):
        now += 0.01
        op = rng.random()
        if op < 0.1:  # a batch
            batch = [(key(worker, i * 100 + j), "shared", b"b%d" % (i * 100 + j), None) for j in range(10)]
            stored += store.put_many(batch, now)
            live.update(i * 100 + j for j in range(10))
        else:
            store.put(key(worker, i * 100), "shared", b"v%d" % (i * 100), now)
            stored += 1
            live.add(i * 100)
        mine = rng.choice(sorted(live))
        got = store.get(key(worker, mine), "shared", now)
        assert got is not None and got[0] in (b"v%d" % mine, b"b%d" % mine), (mine, got)
        hits += 1
        other = store.get(key((worker + 1) % 4, rng.randrange(rounds) * 100), "shared", now)  # may miss
        hits, misses = (hits + 1, misses) if other is not None else (hits, misses + 1)
        if op > 0.7:
            victim = rng.choice(sorted(live))
            assert store.remove(key(worker, victim), "shared")
            live.discard(victim)
        store.contains(key(worker, mine), "shared", now)
    counters = dict(store.stats()).get("shared", {})
    print(
        json.dumps(
            {
                "live": len(live),
                "hits": hits,
                "misses": misses,
                "stored": stored,
                "counted_hits": counters.get("hits"),
                "counted_misses": counters.get("misses"),
                "counted_stores": counters.get("stores"),
            }
        )
    )


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "acked":
        acked(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif mode == "mixed":
        mixed(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
