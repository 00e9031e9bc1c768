"""Several processes on one store: SQLite survives kill -9 of a writer with every acknowledged
write, and 4 processes doing mixed operations on one SQLite file / one PostgreSQL table see no
error and counts that add up."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import uuid

import dejacache
from dejacache.stores._sqlite import SQLiteStore

WORKER = os.path.join(os.path.dirname(__file__), "_worker.py")
ENV = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(dejacache.__file__))}


def run_workers(spec: str, n: int = 4, rounds: int = 150) -> list[dict]:
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "mixed", spec, str(w), str(rounds)],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(n)
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        assert p.returncode == 0, stderr[-3000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def check_counts(results: list[dict], live_in_store: int) -> None:
    assert live_in_store == sum(r["live"] for r in results)
    for r in results:  # each process counts its own reads and writes, exactly
        assert (r["counted_hits"], r["counted_misses"], r["counted_stores"]) == (r["hits"], r["misses"], r["stored"])


def test_sqlite_keeps_every_acknowledged_write_through_kill_9(tmp_path):
    path = str(tmp_path / "crash.db")
    rng = random.Random(7)
    acknowledged: list[str] = []
    for round_ in range(5):
        child = subprocess.Popen(
            [sys.executable, WORKER, "acked", path, f"{round_:08x}{0:016x}", "1000"],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stop_after = rng.randrange(20, 900)
        lines = []
        for line in child.stdout:
            lines.append(line)
            if len(lines) >= stop_after:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read()
        acknowledged += [line.strip() for line in lines if line.endswith("\n")]
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        store = SQLiteStore(path)
        missing = [k for k in acknowledged if store.get(k, "crash", 2000.0) is None]
        assert missing == [], f"round {round_}: {len(missing)} acknowledged writes lost"
        assert store.get(acknowledged[-1], "crash", 2000.0)[0] == b'{"v":1,"r":"%s"}' % acknowledged[-1].encode()
        store.close()
    assert len(acknowledged) >= 5 * 20


def test_four_processes_on_one_sqlite_file(tmp_path):
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()  # the schema exists before the workers race
    results = run_workers(path)
    store = SQLiteStore(path)
    check_counts(results, len(store))
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("SELECT COUNT(*) FROM dejacache_entries").fetchone()[0] == len(store)
    store.close()


def test_four_processes_on_one_fresh_sqlite_file(tmp_path):
    # No schema yet: the workers race to make it (WAL switch and CREATE ... IF NOT EXISTS).
    path = str(tmp_path / "fresh.db")
    results = run_workers(path, rounds=40)
    store = SQLiteStore(path)
    check_counts(results, len(store))
    store.close()


def test_four_processes_on_one_postgresql_table(postgres_server, sql_store_maker):
    table = f"t_{uuid.uuid4().hex[:12]}"
    store = sql_store_maker(postgres_server.url, table=table)  # makes the table, drops it at the end
    results = run_workers(f"{postgres_server.url}#{table}")
    check_counts(results, len(store))
