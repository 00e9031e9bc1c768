"""The SQLite store's file layout: the tables, the triggers that keep the per-namespace totals,
the eviction-order indexes and the statements the store runs."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS dejacache_entries (
    namespace TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    last_access REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dejacache_entries_expires ON dejacache_entries(expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS dejacache_totals (
    namespace TEXT PRIMARY KEY,
    entries INTEGER NOT NULL,
    bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS dejacache_entries_ins AFTER INSERT ON dejacache_entries BEGIN
    INSERT INTO dejacache_totals(namespace, entries, bytes) VALUES (NEW.namespace, 1, NEW.size)
    ON CONFLICT(namespace) DO UPDATE SET entries = entries + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER IF NOT EXISTS dejacache_entries_del AFTER DELETE ON dejacache_entries BEGIN
    UPDATE dejacache_totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE namespace = OLD.namespace;
END;
CREATE TRIGGER IF NOT EXISTS dejacache_entries_upd AFTER UPDATE OF size ON dejacache_entries BEGIN
    UPDATE dejacache_totals SET bytes = bytes - OLD.size + NEW.size WHERE namespace = NEW.namespace;
END;
"""
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
TOTALS = "SELECT COALESCE(SUM(entries), 0), COALESCE(SUM(bytes), 0) FROM dejacache_totals"
EXPIRE_ONE = "DELETE FROM dejacache_entries WHERE namespace = ? AND key = ? AND expires <= ?"
DELETE_ONE = "DELETE FROM dejacache_entries WHERE namespace = ? AND key = ?"
TOUCH = (
    "UPDATE dejacache_entries SET last_access = MAX(last_access, ?), hits = hits + ? WHERE namespace = ? AND key = ?"
)
