"""Parts 2 and 3 of benches/bench_stores.py: server hits against the raw driver, put_many against put."""

from __future__ import annotations

import os
import random
import sys
import time
import uuid

from dejacache import _codec
from dejacache.stores._sqlite import SQLiteStore

NOW = 1_000_000.0
VALUE = _codec.encode({"choices": [{"message": {"role": "assistant", "content": "Caching keeps answers. " * 20}}]})


def key(i: int) -> str:
    return f"{i:032x}"


def _servers(args):
    """Running servers from --postgres / --mariadb, else ones started from the Debian packages."""
    tests = os.path.join(os.path.dirname(__file__), "..", "tests")
    sys.path[:0] = [os.path.join(tests, "stores", "sql"), tests]  # servers.py imports tests/pg_server.py
    import servers as srv  # noqa: PLC0415

    class Given:
        def __init__(self, name, url):
            self.name, self.url = name, url

        def stop(self):
            pass

    out = []
    for name, given, start in (
        ("postgresql", args.postgres, srv.start_postgres),
        ("mariadb", args.mariadb, srv.start_mariadb),
    ):
        if given:
            out.append(Given(name, given))
            continue
        try:
            out.append(start())
        except srv.ServerMissing as exc:
            print(f"   {name}: not measured ({exc})")
    return out


def _raw_connection(store):
    """A driver connection of the same server, autocommit, outside the store's pool."""
    url = store.engine.url
    if store.backend == "postgresql":
        import psycopg

        return psycopg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database, autocommit=True
        )
    import pymysql

    return pymysql.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database, autocommit=True
    )


def bench_servers(args, tmp):
    from dejacache.stores._sql import SQLStore

    print(
        f"2. Server hit: SQLStore.get against the raw driver's SELECT by primary key ({args.server_entries:,} "
        f"entries, {args.queries} reads each, interleaved)"
    )
    servers = _servers(args)
    for server in servers:
        store = SQLStore(server.url, table=f"bench_{uuid.uuid4().hex[:8]}")
        n = args.server_entries
        store.put_many([(key(i), "default", VALUE, None) for i in range(n)], NOW)
        raw = _raw_connection(store)
        cur = raw.cursor()
        sql = store._get.sql.replace("$1", "%s").replace("$2", "%s")  # the same statement text
        picks = [random.Random(2).randrange(n) for _ in range(args.queries)]
        ours, theirs = [], []
        for j, i in enumerate(picks):
            kb = bytes.fromhex(key(i))
            params = store._get.params({"ns": "default", "k": kb})
            for which in (0, 1) if j % 2 else (1, 0):
                t = time.perf_counter()
                if which == 0:
                    got = store.get(key(i), "default", NOW)
                else:
                    cur.execute(sql, params)
                    row = cur.fetchone()
                    got = (bytes(row[0]), row[1])
                (ours if which == 0 else theirs).append(time.perf_counter() - t)
                assert got[0] == VALUE
        ours.sort()
        theirs.sort()
        o, r = ours[len(ours) // 2] * 1e6, theirs[len(theirs) // 2] * 1e6
        print(f"   {server.name:10s} SQLStore.get p50 {o:7.1f} us   raw driver p50 {r:7.1f} us   ratio {o / r:.2f}x")
        raw.close()
        store.table.drop(store.engine)
        store.close()
    return servers


def _put_vs_many(make, n):
    items = [(key(i), "default", VALUE, None) for i in range(n)]
    store = make()
    t = time.perf_counter()
    for k, ns, v, ttl in items:
        store.put(k, ns, v, NOW, ttl)
    loop = time.perf_counter() - t
    store.clear()
    t = time.perf_counter()
    assert store.put_many(items, NOW) == n
    many = time.perf_counter() - t
    assert len(store) == n
    return store, loop, many


def bench_writes(args, tmp, servers):
    from dejacache.stores._sql import SQLStore

    n = args.batch
    print(f"3. put_many against put in a loop ({n:,} entries of {len(VALUE)} bytes)")

    def fresh():
        return os.path.join(tmp, f"w{uuid.uuid4().hex[:6]}.db")

    makers = [
        ("sqlite", lambda: SQLiteStore(fresh())),
        ("sqlite FULL", lambda: SQLiteStore(fresh(), synchronous="FULL")),
    ]
    try:
        import duckdb_engine  # noqa: F401

        makers.append(("duckdb", lambda: SQLStore(f"duckdb:///{tmp}/w{uuid.uuid4().hex[:6]}.duckdb")))
    except ImportError:
        print("   duckdb: not measured (pip install 'dejacache[duckdb]')")
    for server in servers:
        makers.append((server.name, lambda url=server.url: SQLStore(url, table=f"w_{uuid.uuid4().hex[:8]}")))
    for name, make in makers:
        store, loop, many = _put_vs_many(make, n)
        print(
            f"   {name:10s} put loop {loop * 1e6 / n:8.1f} us/entry   put_many {many * 1e6 / n:7.1f} us/entry   "
            f"ratio {loop / many:.1f}x"
        )
        if hasattr(store, "table"):
            store.table.drop(store.engine)
        store.close()
