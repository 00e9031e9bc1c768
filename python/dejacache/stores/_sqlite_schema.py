"""The SQLite store's file layout: the tables, the triggers that keep the per-namespace totals,
the eviction-order indexes, the layout's version and the change from an older one, and the
statements the store runs."""

from __future__ import annotations

import sqlite3

#: ``PRAGMA user_version`` of the layout below. 0: a file made before versioning (``dejacache_entries``
#: WITHOUT ROWID, rebuilt on open); 2: entries in a rowid table.
SCHEMA_VERSION = 2

# A rowid table with the primary key as an index: a row holds the whole value (hundreds of bytes
# to kilobytes), and in a WITHOUT ROWID table every insert between existing keys moves such rows
# between pages; here only the small index entry does (measured: a bulk write into a filled file
# 2.5-3.7x cheaper per row, reads no slower).
ENTRIES = """CREATE TABLE IF NOT EXISTS dejacache_entries (
    namespace TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    last_access REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
)"""
#: Everything else, one statement each (run inside the opening transaction).
SCHEMA = (
    ENTRIES,
    "CREATE INDEX IF NOT EXISTS dejacache_entries_expires ON dejacache_entries(expires) WHERE expires IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS dejacache_totals (
    namespace TEXT PRIMARY KEY,
    entries INTEGER NOT NULL,
    bytes INTEGER NOT NULL
) WITHOUT ROWID""",
    """CREATE TRIGGER IF NOT EXISTS dejacache_entries_ins AFTER INSERT ON dejacache_entries BEGIN
    INSERT INTO dejacache_totals(namespace, entries, bytes) VALUES (NEW.namespace, 1, NEW.size)
    ON CONFLICT(namespace) DO UPDATE SET entries = entries + 1, bytes = bytes + excluded.bytes;
END""",
    """CREATE TRIGGER IF NOT EXISTS dejacache_entries_del AFTER DELETE ON dejacache_entries BEGIN
    UPDATE dejacache_totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE namespace = OLD.namespace;
END""",
    """CREATE TRIGGER IF NOT EXISTS dejacache_entries_upd AFTER UPDATE OF size ON dejacache_entries BEGIN
    UPDATE dejacache_totals SET bytes = bytes - OLD.size + NEW.size WHERE namespace = NEW.namespace;
END""",
)
_COLUMNS = "namespace, key, value, created, expires, last_access, hits, size"


def open_layout(conn: sqlite3.Connection, order_index: str) -> None:
    """Makes the tables, indexes and triggers that are missing, and brings a file of an older
    layout to this one, in one write transaction (a process opening the file meanwhile waits,
    then finds it done). Files of an older dejacache keep working with it: the names, columns
    and statements are the same. A file of a newer layout is refused rather than changed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"this SQLite cache file has layout {version}, made by a newer dejacache (this one "
                f"knows {SCHEMA_VERSION}): upgrade dejacache, or point the store at another file"
            )
        if version < SCHEMA_VERSION:
            _rebuild_without_rowid(conn)
        for statement in (*SCHEMA, order_index):
            conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _rebuild_without_rowid(conn: sqlite3.Connection) -> None:
    """Layout 0 -> 2: copies a WITHOUT ROWID entries table into a rowid one. The totals stay as
    they are (the same rows); the triggers and indexes go with the old table and are made again
    by ``SCHEMA``. Takes a moment per 100k entries, once."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'dejacache_entries'").fetchone()
    if row is None or "WITHOUT ROWID" not in row[0].upper():
        return
    conn.execute("ALTER TABLE dejacache_entries RENAME TO dejacache_entries_layout0")
    conn.execute(ENTRIES)
    conn.execute(f"INSERT INTO dejacache_entries({_COLUMNS}) SELECT {_COLUMNS} FROM dejacache_entries_layout0")
    conn.execute("DROP TABLE dejacache_entries_layout0")


# One index per eviction order, made by the first store that evicts that way.
ORDER_INDEX = {
    "lru": "CREATE INDEX IF NOT EXISTS dejacache_entries_lru ON dejacache_entries(last_access)",
    "fifo": "CREATE INDEX IF NOT EXISTS dejacache_entries_fifo ON dejacache_entries(created)",
    "lfu": "CREATE INDEX IF NOT EXISTS dejacache_entries_lfu ON dejacache_entries(hits, last_access)",
}
ORDER_BY = {"lru": "last_access", "fifo": "created", "lfu": "hits, last_access"}

GET = "SELECT value, created, expires, last_access FROM dejacache_entries WHERE namespace = ? AND key = ?"
CONTAINS = "SELECT 1 FROM dejacache_entries WHERE namespace = ? AND key = ? AND (expires IS NULL OR expires > ?)"
UPSERT = (
    "INSERT INTO dejacache_entries(namespace, key, value, created, expires, last_access, hits, size)"
    " VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value,"
    " created = excluded.created, expires = excluded.expires, last_access = excluded.last_access,"
    " hits = 0, size = excluded.size"
)
#: Rows per statement of a bulk write: one multi-row upsert costs a third less per row than
#: executemany's statement per row; 7 parameters a row stays under SQLite's oldest limit (999).
BULK_ROWS = 100
UPSERT_BULK = UPSERT.replace(
    "VALUES (?, ?, ?, ?, ?, ?, 0, ?)", "VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, 0, ?)"] * BULK_ROWS)
)
TOTALS = "SELECT COALESCE(SUM(entries), 0), COALESCE(SUM(bytes), 0) FROM dejacache_totals"
EXPIRE_ONE = "DELETE FROM dejacache_entries WHERE namespace = ? AND key = ? AND expires <= ?"
DELETE_ONE = "DELETE FROM dejacache_entries WHERE namespace = ? AND key = ?"
TOUCH = (
    "UPDATE dejacache_entries SET last_access = MAX(last_access, ?), hits = hits + ? WHERE namespace = ? AND key = ?"
)
