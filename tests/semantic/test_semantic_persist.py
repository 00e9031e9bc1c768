"""The semantic tier beside a SQLite store keeps its vectors on disk: hits survive a restart,
and a process killed with SIGKILL mid-put leaves no vector without its entry and no
acknowledged entry without its vector."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from conftest import chat
from dejacache import Cache, Semantic
from dejacache._semantic import persist
from dejacache._semantic.entries import vector_id
from dejacache.stores import SQLiteStore
from dejacache.vectorstores import EMPTY_ID
from semantic_helpers import WordEmbedder

TESTS = Path(__file__).parent


def open_cache(path: Path, embedder=None) -> Cache:
    return Cache(semantic=Semantic(embedder=embedder or WordEmbedder()), store=f"sqlite:///{path}")


def close(cache: Cache) -> None:
    """Lets go of the folder (a restart in the same process): the tier's index closes its files."""
    cache.semantic.index.index.close()
    del cache
    gc.collect()


def ask(i: int) -> dict:
    return chat(f"question number w{i}")


def ask_again(i: int) -> dict:
    """The same content words, another wording: an exact miss, a semantic hit."""
    return chat(f"Question number w{i}?")


def index_contents(cache: Cache) -> dict[str, set[int]]:
    """Every (scope -> ids) in the tier's index: a search as wide as each scope (a scan while
    a scope is small, so every vector is returned)."""
    index = cache.semantic.index.index
    index.compact()  # waits until the vectors replayed at open are in the graph: counts are exact then
    out = {}
    for scope in index.namespaces():
        n = index.count(scope)
        ids, _ = index.search(np.ones((1, index.dim), np.float32), k=n, namespace=scope)
        found = ids[ids != EMPTY_ID].tolist()
        assert len(found) == n
        out[scope] = set(found)
    return out


def test_semantic_hits_survive_a_restart(tmp_path):
    path = tmp_path / "c.db"
    cache = open_cache(path)
    for i in range(30):
        cache.put(ask(i), {"a": i})
    cache.delete(ask(3))
    cache.put(ask(4), {"a": "four, replaced"})
    cache.put(ask(5), {"a": 5}, cache={"namespace": "other"})
    close(cache)
    assert (tmp_path / "c.db.vectors").is_dir()

    cache = open_cache(path)
    assert len(cache.semantic) == 30  # 30 puts, one deleted, one more in another namespace
    for i in range(30):
        hit = cache.get(ask_again(i))
        if i == 3:
            assert hit is None
            continue
        assert hit is not None and hit.source == "semantic"
        assert hit.response == {"a": "four, replaced" if i == 4 else i}
    assert cache.get(ask_again(5), cache={"namespace": "other"}).response == {"a": 5}
    assert cache.get(ask_again(6), cache={"namespace": "third"}) is None
    # After a clear, nothing comes back either.
    cache.clear("default")
    close(cache)
    cache = open_cache(path)
    assert cache.get(ask_again(7)) is None and len(cache.semantic) == 1
    close(cache)


def test_snapshots_replace_the_journal_and_reopen_mapped(tmp_path, monkeypatch):
    monkeypatch.setattr(persist, "COMPACT_AFTER", 16)
    monkeypatch.setattr(persist, "SNAPSHOT_SHARE", 1e9)  # no pause between snapshots
    path = tmp_path / "c.db"
    cache = open_cache(path)
    for i in range(100):
        cache.put(ask(i), {"a": i})
    for i in range(0, 100, 10):
        cache.delete(ask(i))
    index = cache.semantic.index.index
    index.compact()
    assert index.compactions >= 2
    files = sorted(p.name for p in (tmp_path / "c.db.vectors").iterdir())
    assert [f for f in files if f.startswith("index.")] == [f"index.{index._generation}"]
    assert [f for f in files if f.startswith("journal.")] == [f"journal.{index._generation}"]
    close(cache)
    cache = open_cache(path)
    assert len(cache.semantic) == 90
    for i in range(100):
        hit = cache.get(ask_again(i))
        assert (hit is None) if i % 10 == 0 else (hit.response == {"a": i})
    close(cache)


def test_a_long_journal_replays_in_batches_then_becomes_a_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(persist, "COMPACT_AFTER", 500)
    monkeypatch.setattr(persist, "SNAPSHOT_SHARE", 1e-9)  # no snapshot while loading
    path = tmp_path / "c.db"
    cache = open_cache(path)
    cache.put_many([(ask(i), {"a": i}) for i in range(600)])  # one run of 600 adds in the journal
    for i in range(5):
        cache.put(ask(i), {"a": -i})  # the same ids again, later in the journal
    assert cache.semantic.index.index.compactions == 0
    close(cache)
    cache = open_cache(path)
    index = cache.semantic.index.index
    index.compact()  # waits for the snapshot the open started (605 records replayed >= 500)
    assert index.compactions >= 1
    assert len(cache.semantic) == 600 and index.count(next(iter(index_contents(cache)))) == 600
    assert [cache.get(ask_again(i)).response for i in (0, 4, 5, 599)] == [{"a": 0}, {"a": -4}, {"a": 5}, {"a": 599}]
    close(cache)


def test_replayed_vectors_serve_from_a_flat_delta_until_moved_into_the_graph(tmp_path, monkeypatch):
    path = tmp_path / "c.db"
    cache = open_cache(path)
    for i in range(40):
        cache.put(ask(i), {"a": i})
    cache.semantic.index.index.compact()  # 0..39 in the snapshot
    for i in range(40, 60):
        cache.put(ask(i), {"a": i})  # 40..59 in the journal only
    close(cache)
    drain = persist.PersistentIndex._drain
    monkeypatch.setattr(persist.PersistentIndex, "_drain", lambda self: None)  # hold the delta
    cache = open_cache(path)
    index = cache.semantic.index.index
    assert index.delta is not None and index.delta.count(next(iter(index.namespaces()))) == 20
    assert len(index) == 60 and len(cache.semantic) == 60
    assert [cache.get(ask_again(i)).response for i in (0, 39, 40, 59)] == [{"a": i} for i in (0, 39, 40, 59)]
    cache.put(ask(45), {"a": "new"})  # replaced: out of the delta, into the graph
    cache.delete(ask(50))  # removed from the delta
    cache.delete(ask(5))  # removed from the graph
    assert len(index) == 58 and index.delta.count(next(iter(index.namespaces()))) == 18
    assert cache.get(ask_again(45)).response == {"a": "new"}
    assert cache.get(ask_again(50)) is None and cache.get(ask_again(5)) is None
    # One id in both for a moment (as while it moves): returned once.
    (scope, vid), row = next(iter(index._pending.items()))
    index.index.add(np.array([vid], np.uint64), row[None, :], scope)
    ids, _ = index.search(np.ones((1, index.dim), np.float32), k=60, namespace=scope)
    assert len(set(ids[ids != EMPTY_ID].tolist())) == (ids != EMPTY_ID).sum() == 58
    drain(index)  # the real thing: moves them, then writes a snapshot
    index.compact()
    assert index.delta is None and index.search == index.index.search and len(index) == 58
    assert index_contents(cache)[scope] == {vector_id(cache.key(ask(i))) for i in range(60) if i not in (5, 50)}
    close(cache)
    monkeypatch.undo()
    cache = open_cache(path)
    assert cache.semantic.index.index.delta is None  # all in the snapshot now: nothing replayed
    assert cache.get(ask_again(45)).response == {"a": "new"} and cache.get(ask_again(59)).response == {"a": 59}
    close(cache)


def test_entries_gone_from_the_store_are_dropped_at_open(tmp_path):
    path = tmp_path / "c.db"
    cache = open_cache(path)
    for i in range(10):
        cache.put(ask(i), {"a": i})
    close(cache)
    # Another program (or an eviction) removes two entries while no cache has the folder.
    store = SQLiteStore(str(path))
    for i in (2, 7):
        assert store.remove(Cache().key(ask(i)), "default")
    store.close()
    cache = open_cache(path)
    assert len(cache.semantic) == 8
    gone = {vector_id(Cache().key(ask(i))) for i in (2, 7)}
    assert not gone & set().union(*index_contents(cache).values())
    close(cache)


def test_a_torn_journal_tail_is_cut_off(tmp_path):
    path = tmp_path / "c.db"
    cache = open_cache(path)
    for i in range(5):
        cache.put(ask(i), {"a": i})
    close(cache)
    journal = tmp_path / "c.db.vectors" / "journal.0"
    sound = journal.stat().st_size
    with open(journal, "ab") as f:
        f.write(b"\x40\x00\x00\x00\x01\x02\x03\x04A{half a record")  # a write cut short by a kill
    cache = open_cache(path)
    assert journal.stat().st_size == sound
    assert [cache.get(ask_again(i)).response for i in range(5)] == [{"a": i} for i in range(5)]
    cache.put(ask(5), {"a": 5})
    close(cache)
    cache = open_cache(path)
    assert cache.get(ask_again(5)).response == {"a": 5}
    close(cache)


def test_another_embedder_starts_empty(tmp_path, caplog):
    path = tmp_path / "c.db"
    cache = open_cache(path)
    cache.put(ask(1), {"a": 1})
    close(cache)
    cache = open_cache(path, embedder=WordEmbedder(dim=128))
    assert len(cache.semantic) == 0 and "were made by" in caplog.text
    assert cache.get(ask(1)).source == "exact" and cache.get(ask_again(1)) is None
    close(cache)


def test_a_second_cache_on_the_same_file_reads_and_keeps_its_own_in_memory(tmp_path, caplog):
    path = tmp_path / "c.db"
    first = open_cache(path)
    first.put(ask(1), {"a": 1})
    second = open_cache(path)
    assert "in use by another process" in caplog.text
    assert second.get(ask_again(1)).response == {"a": 1}
    second.put(ask(2), {"a": 2})  # its vector stays in this cache's memory
    assert second.get(ask_again(2)).response == {"a": 2}
    close(second)
    first.put(ask(3), {"a": 3})
    close(first)
    cache = open_cache(path)
    assert cache.get(ask_again(3)).response == {"a": 3} and cache.get(ask_again(1)).response == {"a": 1}
    assert cache.get(ask_again(2)) is None  # stored by the reader: in memory only
    close(cache)


def test_a_forked_child_leaves_the_folder_to_its_parent(tmp_path):
    path = tmp_path / "c.db"
    cache = open_cache(path)
    cache.put(ask(1), {"a": 1})
    journal = tmp_path / "c.db.vectors" / "journal.0"
    size = journal.stat().st_size
    pid = os.fork()
    if pid == 0:  # the child: reads what the parent had, writes nothing to the folder
        code = 1
        try:
            cache.put(ask(2), {"a": 2})
            ok = cache.get(ask_again(2)).response == {"a": 2} and cache.get(ask_again(1)).response == {"a": 1}
            code = 0 if ok and journal.stat().st_size == size else 1
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    cache.put(ask(3), {"a": 3})  # the parent still journals
    assert journal.stat().st_size > size
    close(cache)
    cache = open_cache(path)
    assert cache.get(ask_again(3)).response == {"a": 3} and cache.get(ask_again(2)) is None
    close(cache)


def test_no_file_store_no_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = Cache(semantic=Semantic(embedder=WordEmbedder()))
    cache.put(ask(1), {"a": 1})
    assert list(tmp_path.iterdir()) == []
    assert type(cache.semantic.index).__name__ == "BuiltinStore"
    assert type(cache.semantic.index.index).__name__ == "VectorIndex"


_CHILD = textwrap.dedent(
    """
    import random, sys
    sys.path.insert(0, {tests!r})
    from conftest import chat
    from semantic_helpers import WordEmbedder
    from dejacache import Cache, Semantic
    from dejacache._semantic import persist

    persist.COMPACT_AFTER = 40  # snapshots often, so that kills land during them too
    start = int(sys.argv[2])
    cache = Cache(semantic=Semantic(embedder=WordEmbedder()), store="sqlite:///" + sys.argv[1])
    rng = random.Random(start)
    for i in range(start, start + 100_000):
        print("begin", i, flush=True)
        cache.put(chat(f"question number w{{i}}"), {{"a": i}})
        print("put", i, flush=True)
        if rng.random() < 0.2 and i > start:
            j = rng.randrange(start, i)
            print("begin-delete", j, flush=True)
            cache.delete(chat(f"question number w{{j}}"))
            print("deleted", j, flush=True)
    """
)


def test_kill_9_during_puts_loses_no_acknowledged_vector(tmp_path):
    path = tmp_path / "c.db"
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(tests=str(TESTS)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    acked: dict[int, bool] = {}  # i -> live (put acknowledged, and not deleted since)
    in_flight: set[int] = set()  # begun, never acknowledged: may or may not have landed
    rng = np.random.default_rng(7)
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), str(round_ * 100_000)], stdout=subprocess.PIPE, env=env, text=True
        )
        target = int(rng.integers(80, 200))
        seen = {"puts": 0, "begun": None}

        def follow(line, seen=seen):
            if not line.endswith("\n"):  # torn by the kill (print may write in pieces): not acknowledged
                return
            word, n = line.split()
            n = int(n)
            if word in ("begin", "begin-delete"):
                seen["begun"] = n
            elif word == "put":
                acked[n], seen["begun"] = True, None
                seen["puts"] += 1
            elif word == "deleted":
                acked[n], seen["begun"] = False, None

        for line in proc.stdout:
            follow(line)
            if seen["puts"] >= target:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The child went on until the signal landed: what it printed meanwhile happened too.
        for line in proc.stdout:
            follow(line)
        proc.stdout.close()
        begun = seen["begun"]
        if begun is not None:
            in_flight.add(begun)
            acked.pop(begun, None)  # an interrupted put or delete: either outcome is allowed

    cache = open_cache(path)
    keys = {i: cache.key(ask(i)) for i in list(acked) + list(in_flight)}
    store = SQLiteStore(str(path))
    live_keys = set(store.keys("default"))
    store.close()
    contents = index_contents(cache)
    vectors = set().union(*contents.values())
    # 1. No vector points at a missing entry.
    live_vids = {vector_id(k) for k in live_keys}
    assert vectors <= live_vids, f"{len(vectors - live_vids)} vectors without their entry"
    # 2. Every acknowledged live entry has its vector, and is a semantic hit; deleted ones are gone.
    for i, live in acked.items():
        assert (vector_id(keys[i]) in vectors) == live, (i, live)
        hit = cache.get(ask_again(i))
        assert (hit is not None and hit.response == {"a": i}) if live else hit is None, (i, live, hit)
    # 3. Which way an interrupted put went: its entry may be in the store without a vector (it is
    #    not rebuilt: the store holds the answer, not the request embedded); the exact tier serves it.
    for i in in_flight:
        if keys[i] in live_keys and vector_id(keys[i]) not in vectors:
            assert cache.get(ask(i)).source == "exact"
    assert len(acked) >= 200
    close(cache)
