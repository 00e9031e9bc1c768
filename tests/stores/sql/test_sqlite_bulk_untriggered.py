"""A big SQLiteStore.put_many writes without the totals triggers (``stores/_sqlite_bulk.py``):
the totals end as ``put`` in a loop leaves them, the triggers are back after every batch, a
process writing with plain ``put`` meanwhile sees no error, and kill -9 in the middle of a batch
leaves a consistent file with its triggers."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import dejacache
import pytest
from dejacache.stores import _sqlite_bulk
from dejacache.stores._sqlite import SQLiteStore

NOW = 1_000_000.0
BIG = _sqlite_bulk.UNTRIGGERED_ROWS
ENV = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(dejacache.__file__))}
TRIGGERS = ["dejacache_entries_del", "dejacache_entries_ins", "dejacache_entries_upd"]


def triggers(path: str) -> list[str]:
    with sqlite3.connect(path) as raw:
        return sorted(r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"))


def counted(path: str) -> dict[str, tuple[int, int]]:
    """Entries and bytes per namespace counted from the rows, and as the totals table has them."""
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = raw.execute("SELECT namespace, COUNT(*), SUM(size) FROM dejacache_entries GROUP BY namespace")
        truth = {ns: (n, b) for ns, n, b in rows}
        kept = {ns: (n, b) for ns, n, b in raw.execute("SELECT * FROM dejacache_totals") if n}
    assert kept == truth
    return truth


def test_big_put_many_that_replaces_rows_keeps_the_totals_of_a_put_loop(tmp_path):
    rnd = random.Random(3)
    first = [(f"{i:032x}", f"ns{i % 3}", b"o" * (1 + i % 50), None) for i in range(1500)]
    # Replaces a third of the rows (other sizes), repeats keys inside the batch, adds new ones,
    # touches a namespace the file does not have yet, and skips a ttl-0 item.
    batch = [
        (f"{rnd.randrange(4000):032x}", f"ns{rnd.randrange(4)}", b"n" * rnd.randrange(1, 90), None)
        for _ in range(BIG + 700)
    ]
    batch.append((f"{1:032x}", "ns1", b"gone", 0))
    bulk, loop = str(tmp_path / "bulk.db"), str(tmp_path / "loop.db")
    a, b = SQLiteStore(bulk), SQLiteStore(loop)
    try:
        assert a.put_many(first, NOW) == 1500  # under the threshold: the triggers keep the totals
        for k, ns, v, ttl in first:
            b.put(k, ns, v, NOW, ttl)
        assert a.put_many(batch, NOW + 1) == len(batch) - 1
        for k, ns, v, ttl in batch:
            b.put(k, ns, v, NOW + 1, ttl)
        assert counted(bulk) == counted(loop)
        assert {ns: (s["entries"], s["bytes"]) for ns, s in a.stats()} == {
            ns: (s["entries"], s["bytes"]) for ns, s in b.stats()
        }
        assert (len(a), a.bytes) == (len(b), b.bytes)
        assert triggers(bulk) == TRIGGERS
        a.put(f"{5000:032x}", "ns0", b"after", NOW + 2)  # the triggers work again
        a.remove(f"{5000:032x}", "ns0")
        a.put(f"{5001:032x}", "ns3", b"after!", NOW + 2)
        b.put(f"{5001:032x}", "ns3", b"after!", NOW + 2)
        assert counted(bulk) == counted(loop)
    finally:
        a.close()
        b.close()


def test_big_put_many_with_a_cap_trims_as_before(tmp_path):
    path = str(tmp_path / "capped.db")
    store = SQLiteStore(path, max_entries=BIG)
    try:
        assert store.put_many([(f"{i:032x}", "a", b"v" * 10, None) for i in range(2 * BIG)], NOW) == 2 * BIG
        assert len(store) <= BIG
        assert counted(path) == {"a": (len(store), 10 * len(store))}
    finally:
        store.close()


_PUTTER = textwrap.dedent(
    """
    import json, sys
    from dejacache.stores._sqlite import SQLiteStore
    store = SQLiteStore(sys.argv[1])
    n = int(sys.argv[2])
    for i in range(n):
        store.put(f"{0xfeed:08x}{i:024x}", "shared", b"p" * (1 + i % 30), 1000.0 + i)
    print(json.dumps({"done": n}))
    """
)


def test_a_process_putting_while_big_batches_run_sees_no_error(tmp_path):
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()
    child = subprocess.Popen(
        [sys.executable, "-c", _PUTTER, path, "1500"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = SQLiteStore(path)
    written = 0
    try:
        for r in range(8):
            batch = [(f"{r:08x}{i:024x}", "shared", b"m" * (1 + i % 20), None) for i in range(BIG)]
            batch += [(f"{r:08x}{i:024x}", "other", b"m", None) for i in range(50)]
            written += store.put_many(batch, NOW)
            time.sleep(0.01)
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-3000:]
        assert json.loads(out)["done"] == 1500
        truth = counted(path)
        assert truth["shared"][0] == 8 * BIG + 1500
        assert truth["other"][0] == 8 * 50 and written == 8 * (BIG + 50)
        assert len(store) == 8 * (BIG + 50) + 1500
        assert triggers(path) == TRIGGERS
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        store.close()


_BATCHER = textwrap.dedent(
    """
    import sys
    from dejacache.stores._sqlite import SQLiteStore
    store = SQLiteStore(sys.argv[1])
    n = int(sys.argv[2])
    r = 0
    while True:  # replaces half of the previous batch's keys each round, until killed
        batch = [(f"{(r * n // 2 + i):032x}", "crash", b"c" * (1 + (r + i) % 40), None) for i in range(n)]
        store.put_many(batch, 1000.0 + r)
        sys.stdout.write(f"{r}\\n")
        sys.stdout.flush()
        r += 1
    """
)


def test_kill_9_in_the_middle_of_big_batches_leaves_a_consistent_file(tmp_path):
    path = str(tmp_path / "crash.db")
    rng = random.Random(11)
    for round_ in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", _BATCHER, path, str(2 * BIG)],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.3 + rng.random() * 0.7)  # the first batch is mid-write or done, then any point
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read()
        assert triggers(path) == TRIGGERS, f"round {round_}"
        counted(path)  # integrity ok, totals equal the rows
        store = SQLiteStore(path)
        store.put(f"{round_:032x}", "after", b"x", 5000.0)  # and the file takes writes again
        store.close()
    assert counted(path)["after"] == (4, 4)


def test_a_failure_inside_the_batch_rolls_back_to_the_triggers(tmp_path, monkeypatch):
    path = str(tmp_path / "fail.db")
    store = SQLiteStore(path)
    try:
        store.put_many([(f"{i:032x}", "a", b"v", None) for i in range(10)], NOW)
        real = _sqlite_bulk._upsert

        def upsert_then_fail(c, rows):
            real(c, rows)  # the rows are in, the triggers are gone: then the write fails
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(_sqlite_bulk, "_upsert", upsert_then_fail)
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            store.put_many([(f"{i:032x}", "a", b"w" * 5, None) for i in range(BIG)], NOW)
        monkeypatch.undo()
        assert triggers(path) == TRIGGERS
        assert counted(path) == {"a": (10, 10)}
        store.put(f"{99:032x}", "a", b"after", NOW)
        assert counted(path) == {"a": (11, 15)}
    finally:
        store.close()
