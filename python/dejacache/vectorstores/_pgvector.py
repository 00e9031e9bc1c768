"""PostgreSQL with pgvector behind the ``VectorStore`` interface (``pip install 'dejacache[pgvector]'``).

One table per store ``name`` (default ``dejacache_vectors``)::

    scope text, tenant text, id bigint, v vector(dim), p text, PRIMARY KEY (scope, id)

with an HNSW index on ``v`` (``vector_cosine_ops``, ``vector_ip_ops`` or ``vector_l2_ops``).
Every search filters on the tenant and the scope columns. pgvector's HNSW scan filters after
the graph search, so a scope holding a small share of the table could come back short; the
session sets ``hnsw.iterative_scan = strict_order`` (pgvector >= 0.8), which keeps scanning until
``k`` rows of the scope are found, in exact distance order. Ids are uint64 stored bit for bit in
``bigint``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ._base import _library
from ._remote import RemoteVectorStore, tenant_of

_OPS = {"cosine": ("vector_cosine_ops", "<=>"), "dot": ("vector_ip_ops", "<#>"), "l2": ("vector_l2_ops", "<->")}


def _literal(row: np.ndarray) -> str:
    """pgvector's text form of a row: float32 values printed exactly (repr round-trips)."""
    return "[" + ",".join(map(repr, row.tolist())) + "]"


class PgVectorStore(RemoteVectorStore):
    """Vectors in a PostgreSQL table with pgvector, shared by every process using the same table.

    >>> store = PgVectorStore.from_url("postgresql://user:pw@localhost/db", dim=384)   # doctest: +SKIP

    ``M``, ``ef_construction`` are the HNSW index's parameters, ``ef_search`` its search beam
    (a query asks for at least ``k``). ``pool_size`` connections at most are opened, on demand;
    ``connect_timeout`` (s, libpq's minimum is 2) and ``statement_timeout`` (s) bound each call.
    The ``vector`` extension must be installable by the user (``CREATE EXTENSION vector``), or
    installed already.
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        url: str = "postgresql://localhost/postgres",
        name: str = "dejacache_vectors",
        *,
        M: int = 16,
        ef_construction: int = 64,
        ef_search: int = 64,
        pool_size: int = 4,
        connect_timeout: int = 2,
        statement_timeout: float = 5.0,
    ) -> None:
        self._pg = _library("psycopg", "PgVectorStore", "pgvector")
        super().__init__(dim, metric, url, name)
        if "-" in name:
            raise ValueError(f"name is a table name here: letters, digits and _ only, got {name!r}")
        self._set_hnsw(M, ef_construction, ef_search)
        if dim > 2000:
            raise ValueError(f"pgvector's HNSW index takes at most 2,000 dimensions, got {dim}")
        self._ef = min(self._ef, 1000)
        self._ops, self._op = _OPS[self._metric]
        self._connect_timeout, self._statement_timeout = connect_timeout, statement_timeout
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._ready = False
        self._ready_lock = threading.Lock()
        sql = self._pg.sql
        self._table = sql.Identifier(name)
        self._hnsw = sql.Identifier(f"{name}_hnsw")

    # -- connections ----------------------------------------------------------------------------

    def _connect(self) -> Any:
        url = self._resolved_url()
        if url.startswith("postgresql+"):  # a SQLAlchemy-style URL: the driver part means nothing here
            url = "postgresql" + url[url.index(":") :]
        conn = self._pg.connect(
            url,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            options=f"-c statement_timeout={int(self._statement_timeout * 1000)}",
        )
        # With the iterative scan, a query asking for more than ef_search rows still gets them.
        try:
            conn.execute("SET hnsw.iterative_scan = strict_order")
            conn.execute(self._pg.sql.SQL("SET hnsw.ef_search = {}").format(self._pg.sql.Literal(self._ef)))
        except self._pg.Error:
            pass  # pgvector < 0.8: plain HNSW scans, which may return fewer than k rows of a scope
        return conn

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        """A pooled connection; one that failed is closed, not returned to the pool."""
        with self._slots:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                conn = self._connect()
            try:
                yield conn
            except BaseException as exc:
                conn.close()
                if isinstance(exc, self._pg.errors.UndefinedTable):
                    self._ready = False  # the table was dropped under us: the next call makes it again
                raise
            if conn.closed or conn.broken:
                return
            self._pool.put(conn)

    def close(self) -> None:
        """Closes the pooled connections."""
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            sql = self._pg.sql
            with self._conn() as conn:
                exists = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
                if not exists:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                # Racing processes: CREATE ... IF NOT EXISTS can still collide on the catalog; a
                # transaction-level advisory lock keyed on the table name puts them in a row.
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self._name])
                    conn.execute(
                        sql.SQL(
                            "CREATE TABLE IF NOT EXISTS {} (scope text NOT NULL, tenant text NOT NULL, "
                            "id bigint NOT NULL, v vector({}) NOT NULL, p text, PRIMARY KEY (scope, id))"
                        ).format(self._table, sql.Literal(self._dim))
                    )
                    # The tenant follows from the scope: told so, the planner does not multiply
                    # the two filters' selectivities and underestimate a scope's rows (which
                    # would make it scan and sort the scope instead of walking the graph).
                    conn.execute(
                        sql.SQL("CREATE STATISTICS IF NOT EXISTS {} (dependencies) ON scope, tenant FROM {}").format(
                            sql.Identifier(f"{self._name}_deps"), self._table
                        )
                    )
                    conn.execute(
                        sql.SQL(
                            "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (v {}) WITH (m = {}, ef_construction = {})"
                        ).format(
                            self._hnsw, self._table, sql.SQL(self._ops), sql.Literal(self._M), sql.Literal(self._efc)
                        )
                    )
                found = conn.execute(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'v'",
                    [self._name],
                ).fetchone()
                if found is None or found[0] != f"vector({self._dim})":
                    raise ValueError(
                        f"the table {self._name!r} holds {found[0] if found else 'no'} vectors, not vector({self._dim}): "
                        "open it with that dimension, or pick another name"
                    )
            self._ready = True

    # -- VectorStore ----------------------------------------------------------------------------

    def _add_rows(self, namespace: str, ids: np.ndarray, vectors: np.ndarray, payloads: list[str | None]) -> None:
        self._ensure()
        tenant = tenant_of(namespace)
        rows = [
            (namespace, tenant, vid, _literal(row), payload)
            for vid, row, payload in zip(ids.view(np.int64).tolist(), vectors, payloads)
        ]
        query = self._pg.sql.SQL(
            "INSERT INTO {} (scope, tenant, id, v, p) VALUES (%s, %s, %s, %s::vector, %s) "
            "ON CONFLICT (scope, id) DO UPDATE SET v = EXCLUDED.v, p = EXCLUDED.p, tenant = EXCLUDED.tenant"
        ).format(self._table)
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(query, rows)

    def _remove(self, namespace: str, ids: np.ndarray) -> int:
        self._ensure()
        query = self._pg.sql.SQL("DELETE FROM {} WHERE scope = %s AND id = ANY(%s)").format(self._table)
        with self._conn() as conn:
            return int(conn.execute(query, [namespace, ids.view(np.int64).tolist()]).rowcount)

    def _score(self, distance: float) -> float:
        # pgvector: <=> is 1 - cos, <#> the negated inner product, <-> the (unsquared) distance.
        if self._metric == "cosine":
            return 1.0 - distance
        if self._metric == "dot":
            return -distance
        return distance * distance

    def _search_rows(self, namespace: str, query: np.ndarray, k: int) -> list[tuple[int, float, str | None]]:
        return self._search_many(namespace, query[None, :], k)[0]

    def _search_many(self, namespace: str, queries: np.ndarray, k: int) -> list[list[tuple[int, float, str | None]]]:
        self._ensure()
        sql = self._pg.sql
        query = sql.SQL(
            "SELECT id, v {op} %(q)s::vector, p FROM {t} WHERE tenant = %(tenant)s AND scope = %(scope)s "
            "ORDER BY v {op} %(q)s::vector LIMIT %(k)s"
        ).format(op=sql.SQL(self._op), t=self._table)
        out = []
        tenant = tenant_of(namespace)
        with self._conn() as conn:
            for q in queries:
                rows = conn.execute(query, {"q": _literal(q), "tenant": tenant, "scope": namespace, "k": k}).fetchall()
                out.append([(vid & 0xFFFFFFFFFFFFFFFF, self._score(float(d)), p) for vid, d, p in rows])
        return out

    def _contains(self, namespace: str, id: int) -> bool:
        self._ensure()
        query = self._pg.sql.SQL("SELECT 1 FROM {} WHERE scope = %s AND id = %s").format(self._table)
        vid = int(np.array([id], np.uint64).view(np.int64)[0])
        with self._conn() as conn:
            return conn.execute(query, [namespace, vid]).fetchone() is not None

    def count(self, namespace: str = "default") -> int:
        self._ensure()
        query = self._pg.sql.SQL("SELECT count(*) FROM {} WHERE scope = %s").format(self._table)
        with self._conn() as conn:
            return int(conn.execute(query, [namespace]).fetchone()[0])

    def __len__(self) -> int:
        self._ensure()
        with self._conn() as conn:
            return int(conn.execute(self._pg.sql.SQL("SELECT count(*) FROM {}").format(self._table)).fetchone()[0])

    def namespaces(self) -> list[str]:
        self._ensure()
        with self._conn() as conn:
            rows = conn.execute(self._pg.sql.SQL("SELECT DISTINCT scope FROM {}").format(self._table)).fetchall()
        return sorted(r[0] for r in rows)

    def _dump(self, namespace: str) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        self._ensure()
        query = self._pg.sql.SQL("SELECT id, v::text, p FROM {} WHERE scope = %s ORDER BY id").format(self._table)
        with self._conn() as conn:
            rows = conn.execute(query, [namespace]).fetchall()
        ids = np.array([r[0] for r in rows], np.int64).view(np.uint64)
        vectors = np.array([np.array(r[1][1:-1].split(","), np.float32) for r in rows], np.float32).reshape(
            -1, self._dim
        )
        return ids, vectors, [r[2] for r in rows]

    def drop_all(self) -> None:
        with self._conn() as conn:
            conn.execute(self._pg.sql.SQL("DROP TABLE IF EXISTS {}").format(self._table))
        with self._ready_lock:
            self._ready = False
