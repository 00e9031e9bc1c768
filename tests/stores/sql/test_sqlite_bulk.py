"""SQLiteStore.put_many (multi-row statements of 100 rows, the rest one by one) leaves the file as
``put`` in a loop does: same entries, values, expiries, per-namespace counts; a later write of a
key wins inside a statement, across statements and across the tail."""

from __future__ import annotations

import random

import pytest
from dejacache.stores._sqlite import SQLiteStore

NOW = 1_000_000.0


def items(seed: int) -> list[tuple[str, str, bytes, float | None]]:
    rnd = random.Random(seed)
    out = []
    for i in range(260):  # two whole statements and a tail of 60
        key = f"{rnd.randrange(180):032x}" if i % 7 else f"text key {rnd.randrange(20)}"  # repeats; hashed keys
        value = b"x" * rnd.randrange(1, 40)
        ttl = None if i % 3 else rnd.choice([5.0, 50.0, 0])  # 0: not stored
        out.append((key, rnd.choice(["a", "b", "c"]), value, ttl))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_put_many_leaves_what_a_put_loop_leaves(tmp_path, seed):
    batch = items(seed)
    bulk, loop = SQLiteStore(str(tmp_path / "bulk.db")), SQLiteStore(str(tmp_path / "loop.db"))
    try:
        stored = bulk.put_many(batch, NOW)
        assert stored == sum(loop.put(k, ns, v, NOW, ttl)[0] for k, ns, v, ttl in batch)
        assert (len(bulk), bulk.bytes) == (len(loop), loop.bytes)
        counts = {ns: (s["entries"], s["bytes"], s["stores"]) for ns, s in bulk.stats()}
        assert counts == {ns: (s["entries"], s["bytes"], s["stores"]) for ns, s in loop.stats()}
        for ns in ("a", "b", "c"):
            assert sorted(bulk.keys(ns)) == sorted(loop.keys(ns))
            for key in loop.keys(ns):
                for t in (NOW + 1, NOW + 10, NOW + 100):  # the expiries match too
                    assert bulk.get(key, ns, t) == loop.get(key, ns, t)
    finally:
        bulk.close()
        loop.close()


def test_put_many_with_caps_and_default_ttl_goes_the_checked_way(tmp_path):
    store = SQLiteStore(str(tmp_path / "capped.db"), max_bytes=1000, default_ttl=10)
    try:
        batch = [(f"{i:032x}", "a", b"y" * 20, None) for i in range(150)] + [(f"{1:032x}", "a", b"z" * 2000, None)]
        assert store.put_many(batch, NOW) == 150  # the value over max_bytes is not stored
        assert store.bytes <= 1000
        assert store.get(f"{149:032x}", "a", NOW + 11) is None  # the default ttl applied
        with pytest.raises(TypeError):
            store.put_many([(f"{i:032x}", "a", "not bytes", None) for i in range(3)], NOW)
    finally:
        store.close()
