"""What the persistent stores keep on disk and show: the golden key, the exact JSON bytes (never
pickle), persistence across reopen, eviction orders with reads, and no password anywhere."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from dejacache import EXCLUDED_PARAMS, _codec, _core
from dejacache.stores._base import StoreUnavailable
from dejacache.stores._sqlite import SQLiteStore

from ..store_suite import T0, k

REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "What is the capital of France?"}],
    "temperature": 0,
}
#: The key every process and host computes for REQUEST (key schema of this version): pinned.
GOLDEN_KEY = "cf537db046d6e12a7d1ae869849675d1"
RESPONSE = {"choices": [{"message": {"role": "assistant", "content": "Paris."}}]}


def golden_entry():
    schema = _core.KeySchema(list(EXCLUDED_PARAMS))
    key = schema.key(REQUEST)
    assert key == GOLDEN_KEY
    assert schema.key({**REQUEST, "cache": {"ttl": 60}, "stream": False}) == GOLDEN_KEY  # controls excluded
    return schema, _codec.encode(RESPONSE)


def check_row(key_blob, value_blob, blob):
    assert bytes(key_blob).hex() == GOLDEN_KEY
    assert bytes(value_blob) == blob
    assert bytes(value_blob).startswith(b"{") and b"\x80\x04" not in bytes(value_blob)  # JSON, not a pickle
    assert _codec.decode(bytes(value_blob))[0] == RESPONSE


def test_sqlite_file_holds_the_golden_key_and_the_exact_json(tmp_path):
    schema, blob = golden_entry()
    path = tmp_path / "golden.db"
    store = SQLiteStore(f"sqlite:///{path}")
    store.put(GOLDEN_KEY, "default", blob, T0)
    assert store.lookup(schema, REQUEST, "default", T0) == (GOLDEN_KEY, blob, T0)
    store.close()
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT namespace, key, value, created FROM dejacache_entries").fetchall()
    assert len(rows) == 1 and rows[0][0] == "default" and rows[0][3] == T0
    check_row(rows[0][1], rows[0][2], blob)


@pytest.mark.parametrize("backend", ["sqlite", "duckdb", "postgres", "mariadb"])
def test_sql_table_holds_the_golden_key_and_persists(backend, tmp_path, request, sql_store_maker):
    import sqlalchemy as sa

    if backend == "duckdb":
        pytest.importorskip("duckdb_engine", reason="needs the duckdb extra: pip install 'dejacache[duckdb]'")
    url = {"sqlite": f"sqlite:///{tmp_path}/g.db", "duckdb": f"duckdb:///{tmp_path}/g.duckdb"}.get(backend)
    if url is None:
        url = request.getfixturevalue(f"{backend}_server").url
    schema, blob = golden_entry()
    store = sql_store_maker(url)
    store.put(GOLDEN_KEY, "default", blob, T0, 3600.0)
    store.put(k(1), "other", b'{"v":1}', T0)
    with store.engine.connect() as c:
        rows = c.execute(
            sa.select(store.table.c.key, store.table.c.value).where(store.table.c.namespace == "default")
        ).all()
    assert len(rows) == 1
    check_row(rows[0][0], rows[0][1], blob)
    table = store.table.name
    store.close()
    again = sql_store_maker(url, table=table)  # reopen: a new engine, new connections
    assert again.lookup(schema, REQUEST, "default", T0 + 10) == (GOLDEN_KEY, blob, T0)
    assert again.get(GOLDEN_KEY, "default", T0 + 3601) is None  # the stored expiry survived too
    assert again.get(k(1), "other", T0 + 10) == (b'{"v":1}', T0)


def test_sqlite_persists_across_reopen_with_ttl(tmp_path):
    path = tmp_path / "p.db"
    store = SQLiteStore(path, default_ttl=100.0)
    store.put(k(1), "a", b"one", T0)
    store.put(k(2), "b", b"two", T0, None)
    store.close()
    store = SQLiteStore(str(path))
    assert store.get(k(1), "a", T0 + 50) == (b"one", T0)
    assert store.get(k(1), "a", T0 + 101) is None
    assert store.keys("b") == [k(2)]
    assert {ns: s["entries"] for ns, s in store.stats()} == {"a": 0, "b": 1}
    store.close()


def _sqlite(tmp_path, **options):
    return SQLiteStore(tmp_path / "ev.db", **options)


def _sql_sqlite(tmp_path, **options):
    pytest.importorskip("sqlalchemy")
    from dejacache.stores._sql import SQLStore

    return SQLStore(f"sqlite:///{tmp_path}/ev-sa.db", **options)


@pytest.mark.parametrize("opener", [_sqlite, _sql_sqlite])
@pytest.mark.parametrize(("eviction", "survivor"), [("lru", 0), ("lfu", 0), ("fifo", 1)])
def test_eviction_orders_count_reads(tmp_path, opener, eviction, survivor):
    store = opener(tmp_path, max_entries=2, eviction=eviction)
    store.put(k(0), "d", b"0", T0)
    store.put(k(1), "d", b"1", T0 + 10)
    for t in (20, 30, 40):  # reads far apart: each is recorded (LRU granularity is 1 s)
        assert store.get(k(0), "d", T0 + t) is not None
    assert store.put(k(2), "d", b"2", T0 + 50) == (True, 1)
    assert sorted(store.keys("d")) == sorted([k(survivor), k(2)])
    assert dict(store.stats())["d"]["evictions"] == 1
    store.close()


def test_sqlite_trims_in_batches(tmp_path):
    store = SQLiteStore(tmp_path / "batch.db", max_entries=100)
    evicted = [store.put(k(i), "d", b"x", T0 + i)[1] for i in range(131)]
    assert evicted[100] == 11 and sum(evicted) == 33 and len(store) == 98  # down to 90 (10% under the cap)
    assert sum(1 for e in evicted if e) == 3  # three trims for 31 puts over the cap, not 31
    assert store.get(k(0), "d", T0 + 200) is None and store.get(k(130), "d", T0 + 200) is not None
    store.close()


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="eviction"):
        SQLiteStore(tmp_path / "x.db", eviction="random")
    with pytest.raises(ValueError, match="file path"):
        SQLiteStore("sqlite:///:memory:")
    store = SQLiteStore(tmp_path / "x.db")
    with pytest.raises(ValueError, match="ttl"):
        store.put(k(1), "d", b"x", T0, -1)
    with pytest.raises(TypeError, match="bytes"):
        store.put(k(1), "d", "text", T0)
    store.put("not-a-hex-key", "d", b"x", T0)  # any other text is hashed as the memory store does
    assert store.keys("d") == [_core.key_of_text("not-a-hex-key")]
    store.close()


SECRET = "Hunter2-secret-pw"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://cache:{SECRET}@127.0.0.1:1/cache",
        f"mysql://cache:{SECRET}@127.0.0.1:1/cache",
        f"postgresql://cache:{SECRET}@no-such-host.invalid:5432/cache",
    ],
)
def test_passwords_never_show_in_errors_repr_or_logs(url, caplog):
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg" if url.startswith("postgresql") else "pymysql")
    from dejacache.stores._sql import SQLStore

    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreUnavailable) as info:
        SQLStore(url, connect_timeout_s=2)
    exc = info.value
    assert SECRET not in str(exc) and SECRET not in repr(exc) and "***" in str(exc)
    assert exc.__cause__ is None and exc.__context__ is None  # the driver's error is not chained
    assert SECRET not in caplog.text


def test_wrong_password_on_a_live_server_is_reported_without_it(postgres_server):
    from dejacache.stores._sql import SQLStore

    url = postgres_server.url.replace(":s3cret-Pw-for-tests@", f":{SECRET}@")
    with pytest.raises(StoreUnavailable, match="password authentication failed") as info:
        SQLStore(url)
    assert SECRET not in str(info.value)


def test_repr_and_stats_hide_the_password(postgres_server, sql_store_maker):
    from dejacache.stores._base import StoreUnavailable  # noqa: F401 - the error type stores raise

    store = sql_store_maker(postgres_server.url)
    store.put(k(1), "d", b"x", T0)
    password = "s3cret-Pw-for-tests"
    assert password not in repr(store) and "***" in repr(store)
    assert password not in str(store.stats())


def test_counters_add_up_across_threads(tmp_path):
    import threading

    store = SQLiteStore(tmp_path / "threads.db")
    store.put(k(1), "d", b"x", T0)

    def reader():
        for _ in range(200):
            assert store.get(k(1), "d", T0) is not None
            assert store.get(k(2), "d", T0) is None

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = dict(store.stats())["d"]
    assert (stats["hits"], stats["misses"], stats["stores"]) == (800, 800, 1)
    store.close()
