"""An entry store in any SQL database SQLAlchemy Core speaks: one implementation for
PostgreSQL (psycopg 3), MySQL / MariaDB (PyMySQL), DuckDB (duckdb-engine) and SQLite, tested
here on real servers; SQL Server and Oracle work by URL through the generic upsert (an UPDATE,
then an INSERT when no row changed) and are untested.

The hit path and single writes run on one raw DBAPI connection per thread in autocommit mode,
with statements compiled once by SQLAlchemy for the dialect (psycopg also prepares them on the
server after a few runs), so a hit costs one driver round trip: no ORM, no per-call compile.
Batches (``put_many``, trims, purges) run in SQLAlchemy transactions; ``put_many`` sends chunks
of 500 rows through the driver's executemany (psycopg pipelines them, PyMySQL writes multi-row
VALUES; DuckDB gets one multi-row statement per chunk, as its executemany goes row by row).
DuckDB commits are slow (milliseconds): it suits a cache filled with ``put_many`` and read often.

Caps are checked by counting the table once every 1/20 of the cap of writes made by this
process (exactly on every write for caps under 20) and trimmed to 10% under the cap: expired
entries first, then by last access (LRU), creation (FIFO) or hit count (LFU). With several
writers the table may exceed a cap by what the others wrote since their last check. Reads do
not write: access times and hit counts are written back in batches. Counters of hits, misses,
stores, evictions and expirations are this process's; entries and bytes are the table's.

Single-flight across processes: a lock table beside the entries table (``_sql_locks``).

Passwords never appear in ``repr``, logs or errors: driver errors are raised as
``StoreUnavailable`` with the URL rendered without its password and the password scrubbed
from the driver's text.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ._base import StoreUnavailable
from ._sql_conn import SQLConnections
from ._sql_locks import SQLLocks
from ._sql_trim import SQLTrim
from ._sqlschema import CHUNK, DEFAULT_DRIVERS, MAX_NAMESPACE_BYTES, UPSERT_KIND, Raw, columns, upsert, write_generic
from ._sqlshared import (
    STORES,
    key_bytes,
    merge_stats,
)


class SQLStore(SQLTrim, SQLConnections, SQLLocks):
    """An entry store in a SQL database reached by a SQLAlchemy URL (see the module docstring).

    ``table``: the table's name (made when missing). ``connect_timeout_s``: connection timeout
    (PostgreSQL, MySQL / MariaDB) and how long to wait for a pooled connection.
    ``engine_options``: more ``sqlalchemy.create_engine`` keyword arguments.
    """

    def __init__(
        self,
        url: str | sa.URL,
        *,
        max_entries: int | None = None,
        max_bytes: int | None = None,
        default_ttl: float | None = None,
        eviction: str = "lru",
        table: str = "dejacache_entries",
        connect_timeout_s: float = 5.0,
        pool_size: int = 5,
        access_granularity_s: float = 1.0,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self._init_options(max_entries, max_bytes, default_ttl, eviction, access_granularity_s)
        url = sa.make_url(url)
        if url.drivername in DEFAULT_DRIVERS:
            url = url.set(drivername=DEFAULT_DRIVERS[url.drivername])
        self.url = url.render_as_string(hide_password=True)
        self._secrets = [s for s in (url.password, url.render_as_string(hide_password=False)) if s]
        self._check_entries = max(1, max_entries // 20) if max_entries is not None else None
        self._check_bytes = max(1, max_bytes // 20) if max_bytes is not None else None
        self._since_entries = self._since_bytes = 1 << 62  # the first write checks the caps
        self._raws: list[Any] = []

        backend = url.get_backend_name()
        options: dict[str, Any] = {"pool_pre_ping": True, "pool_timeout": connect_timeout_s}
        if backend in ("postgresql", "mysql", "mariadb"):
            options["connect_args"] = {"connect_timeout": max(1, int(round(connect_timeout_s)))}
        if backend != "sqlite" and backend != "duckdb":
            options.update(pool_size=pool_size, max_overflow=pool_size)
        options.update(engine_options or {})
        self._guard(self._setup, url, backend, options, table)

    @classmethod
    def from_url(cls, url: str | sa.URL, **options: Any) -> SQLStore:
        return cls(url, **options)

    def _setup(self, url: sa.URL, backend: str, options: dict[str, Any], table: str) -> None:
        self.engine = sa.create_engine(url, **options)
        # The hit path's connections: autocommit, so a read is one round trip (DuckDB's
        # connections commit each statement on their own, and it wants a single engine).
        self._read_engine = (
            self.engine if backend == "duckdb" else sa.create_engine(url, isolation_level="AUTOCOMMIT", **options)
        )
        self.table = t = columns(table)
        self.backend = backend
        schema: list[Any] = [t]
        if backend != "duckdb":  # DuckDB scans fast and updates indexed columns poorly
            order_cols = {"lru": [t.c.last_access], "fifo": [t.c.created], "lfu": [t.c.hits, t.c.last_access]}
            schema.append(sa.Index(f"{table}_expires", t.c.expires))
            schema.append(sa.Index(f"{table}_{self.eviction}", *order_cols[self.eviction]))
        for item in schema:
            self._create(item)
        self._setup_locks(table)  # single-flight locks across processes (_sql_locks)
        ns: Any = sa.bindparam("ns")
        key: Any = sa.bindparam("k")
        pk = sa.and_(t.c.namespace == ns, t.c.key == key)
        dialect = self.engine.dialect
        self._get = Raw(sa.select(t.c.value, t.c.created, t.c.expires, t.c.last_access).where(pk), dialect)
        live = sa.or_(t.c.expires.is_(None), t.c.expires > sa.bindparam("now"))
        self._contains = Raw(sa.select(sa.literal_column("1")).select_from(t).where(pk, live), dialect)
        self._expire_one = Raw(sa.delete(t).where(pk, t.c.expires <= sa.bindparam("now")), dialect)
        self._delete_one = Raw(sa.delete(t).where(pk), dialect)
        self._delete_pk = sa.delete(t).where(pk)
        later = sa.case((t.c.last_access < sa.bindparam("la"), sa.bindparam("la")), else_=t.c.last_access)
        self._touch = sa.update(t).where(pk).values(last_access=later, hits=t.c.hits + sa.bindparam("h"))
        self._order = {"lru": [t.c.last_access], "fifo": [t.c.created], "lfu": [t.c.hits, t.c.last_access]}[
            self.eviction
        ]
        self._upsert_many: Any = upsert(t, backend, None) if backend in UPSERT_KIND else None
        self._upsert_one = Raw(self._upsert_many, dialect) if backend in UPSERT_KIND else None

    def __repr__(self) -> str:
        return (
            f"SQLStore({self.url!r}, max_entries={self.max_entries}, max_bytes={self.max_bytes}, "
            f"eviction={self.eviction!r})"
        )

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._flush_access()
        except StoreUnavailable:
            pass  # access times only order evictions
        self._closed = True
        with self._lock:
            raws, self._raws = self._raws, []
        for fairy, _ in raws:
            fairy.close()
        self._local = threading.local()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()
        self.engine.dispose()

    # -- reads ---------------------------------------------------------------------------------

    def get(self, key: str, namespace: str, now: float, max_age: float | None = None) -> tuple[bytes, float] | None:
        kb = key_bytes(key)
        found = self._answer(self._guard(self._get_row, namespace, kb), namespace, kb, now, max_age)
        return None if found is None else (bytes(found[0]), found[1])

    def _get_row(self, namespace: str, kb: bytes) -> Any:
        return self._run(self._get, {"ns": namespace, "k": kb}).fetchone()

    def _delete_expired(self, namespace: str, kb: bytes, now: float) -> int:
        return int(self._guard(lambda: self._run(self._expire_one, {"ns": namespace, "k": kb, "now": now}).rowcount))

    def _flush_quietly(self) -> None:
        try:
            self._flush_access()
        except StoreUnavailable:
            pass  # the answer is right; the access times only order evictions

    def contains(self, key: str, namespace: str, now: float) -> bool:
        values = {"ns": namespace, "k": key_bytes(key), "now": now}
        return self._guard(lambda: self._run(self._contains, values).fetchone()) is not None

    def _query(self, stmt: Any) -> list[Any]:
        def run() -> list[Any]:
            with self.engine.connect() as c:
                return list(c.execute(stmt).all())

        return self._guard(run)

    def keys(self, namespace: str) -> list[str]:
        """Keys of one namespace, the most recently used (LRU, LFU) or newest (FIFO) first."""
        t = self.table
        order = t.c.created if self.eviction == "fifo" else t.c.last_access
        rows = self._query(sa.select(t.c.key).where(t.c.namespace == namespace).order_by(order.desc()))
        return [bytes(kb).hex() for (kb,) in rows]

    def __len__(self) -> int:
        """Entries in the table (expired ones included until read or purged); counts the table."""
        return int(self._query(sa.select(sa.func.count()).select_from(self.table))[0][0])

    def stats(self) -> list[tuple[str, dict[str, int]]]:
        t = self.table
        rows = self._query(
            sa.select(t.c.namespace, sa.func.count(), sa.func.coalesce(sa.func.sum(t.c.size), 0)).group_by(
                t.c.namespace
            )
        )
        return merge_stats(self._counters.snapshot(), rows)

    # -- writes --------------------------------------------------------------------------------

    def _row(self, key: str, namespace: str, value: Any, ttl: Any, now: float) -> dict[str, Any] | None:
        kb = key_bytes(key)
        if len(namespace.encode()) > MAX_NAMESPACE_BYTES:
            raise ValueError(
                f"a SQL store's namespace is at most {MAX_NAMESPACE_BYTES} bytes of UTF-8, "
                f"not {len(namespace.encode())}: use a shorter name"
            )
        stored, expires = self._expiry(value, ttl, now)
        if not stored:
            return None
        return {
            "namespace": namespace,
            "key": kb,
            "value": value,
            "created": now,
            "expires": expires,
            "last_access": now,
            "hits": 0,
            "size": len(value),
        }

    def put(self, key: str, namespace: str, value: bytes, now: float, ttl: float | None = None) -> tuple[bool, int]:
        row = self._row(key, namespace, value, ttl, now)
        if row is None:
            return False, 0
        if self._upsert_one is not None:
            self._guard(self._run, self._upsert_one, row)
        else:
            self._guard(self._write_rows, [row])
        self._counters.add(namespace, STORES)
        return True, self._maybe_trim(now, (namespace, row["key"]), 1, row["size"])

    def put_many(self, items: Sequence[tuple[str, str, bytes, float | None]], now: float) -> int:
        """Writes the items in one transaction, in batches of 500 rows; a later item with
        the same ``(namespace, key)`` wins. Returns how many were stored."""
        rows: dict[tuple[str, bytes], dict[str, Any]] = {}
        stored: dict[str, int] = {}
        for key, namespace, value, ttl in items:
            row = self._row(key, namespace, value, ttl, now)
            if row is None:
                continue
            rows.pop((namespace, row["key"]), None)
            rows[(namespace, row["key"])] = row
            stored[namespace] = stored.get(namespace, 0) + 1
        if rows:
            self._guard(self._write_rows, list(rows.values()))
        for namespace, n in stored.items():
            self._counters.add(namespace, STORES, n)
        if rows:
            self._maybe_trim(now, None, len(rows), sum(r["size"] for r in rows.values()))
        return sum(stored.values())

    def _write_rows(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as c:
            if self.backend not in UPSERT_KIND:
                write_generic(c, self.table, rows)
                return
            for i in range(0, len(rows), CHUNK):
                if self.backend == "duckdb":  # its executemany runs row by row: one multi-row statement
                    c.execute(upsert(self.table, self.backend, rows[i : i + CHUNK]))
                else:  # executemany: the driver batches (multi-row VALUES, pipeline)
                    c.execute(self._upsert_many, rows[i : i + CHUNK])

    def remove(self, key: str, namespace: str) -> bool:
        values = {"ns": namespace, "k": key_bytes(key)}
        return self._guard(lambda: self._run(self._delete_one, values).rowcount) > 0

    def clear(self, namespace: str | None = None) -> int:
        t = self.table
        stmt = sa.delete(t) if namespace is None else sa.delete(t).where(t.c.namespace == namespace)

        def run() -> int:
            with self.engine.begin() as c:
                return int(c.execute(stmt).rowcount)

        return self._guard(run)
