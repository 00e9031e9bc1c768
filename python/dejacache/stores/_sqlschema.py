"""The SQL store's table and statements: column types per dialect, upserts per dialect, and
statements compiled once for a raw DBAPI cursor."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

#: Drivers used when a URL names none (``postgresql://`` -> psycopg 3, ``mysql://`` -> PyMySQL).
DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
#: Longest namespace in bytes (the column is VARCHAR / VARBINARY(255)).
MAX_NAMESPACE_BYTES = 255
CHUNK = 500


class Namespace(sa.types.TypeDecorator):
    """Text everywhere; VARBINARY on MySQL / MariaDB, whose text collations fold case and pad
    spaces ('a' = 'A ' would merge two tenants)."""

    impl = sa.String(MAX_NAMESPACE_BYTES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.VARBINARY(MAX_NAMESPACE_BYTES))
        return dialect.type_descriptor(sa.String(MAX_NAMESPACE_BYTES))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb") and isinstance(value, str):
            return value.encode()
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return value.decode() if isinstance(value, (bytes, bytearray)) else value


def columns(table: str) -> sa.Table:
    # BINARY(16) keys and LONGBLOB values on MySQL / MariaDB (a BLOB holds 64 KB).
    ns = Namespace()
    key = sa.LargeBinary(16).with_variant(mysql.BINARY(16), "mysql", "mariadb")
    value = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
    return sa.Table(
        table,
        sa.MetaData(),
        sa.Column("namespace", ns, primary_key=True),
        sa.Column("key", key, primary_key=True),
        sa.Column("value", value, nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=True),
        sa.Column("last_access", sa.Double(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
    )


class Raw:
    """A statement compiled once for the dialect, run on a raw DBAPI cursor."""

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.order = compiled.positiontup if dialect.positional else None

    def params(self, values: dict[str, Any]) -> Any:
        return values if self.order is None else tuple(values[name] for name in self.order)


#: Upsert syntax per backend; other databases (SQL Server, Oracle) use ``write_generic``.
UPSERT_KIND = {"postgresql": "pg", "duckdb": "pg", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql"}
_UPDATED = ("value", "created", "expires", "last_access", "hits", "size")


def upsert(t: sa.Table, backend: str, rows: list[dict[str, Any]] | None) -> Any:
    """An insert that replaces the row with the same ``(namespace, key)``: ``ON CONFLICT`` (PostgreSQL,
    DuckDB, SQLite) or ``ON DUPLICATE KEY`` (MySQL, MariaDB); multi-row when ``rows`` are given."""
    kind = UPSERT_KIND[backend]
    if kind == "mysql":
        mins: Any = mysql.insert(t)
        mins = mins.values(rows) if rows is not None else mins
        return mins.on_duplicate_key_update({c: mins.inserted[c] for c in _UPDATED})
    from sqlalchemy.dialects import postgresql, sqlite

    ins: Any = postgresql.insert(t) if kind == "pg" else sqlite.insert(t)
    ins = ins.values(rows) if rows is not None else ins
    return ins.on_conflict_do_update(
        index_elements=[t.c.namespace, t.c.key], set_={c: ins.excluded[c] for c in _UPDATED}
    )


def write_generic(c: Any, t: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Generic SQL (SQL Server, Oracle; untested here): an UPDATE, then an INSERT where no row changed."""
    pk = sa.and_(t.c.namespace == sa.bindparam("b_ns"), t.c.key == sa.bindparam("b_k"))
    update = sa.update(t).where(pk).values({col: sa.bindparam(col) for col in _UPDATED})
    for row in rows:
        if c.execute(update, {**row, "b_ns": row["namespace"], "b_k": row["key"]}).rowcount == 0:
            c.execute(sa.insert(t), row)
