"""SQLiteStore's file layout: a file of the first layout (entries WITHOUT ROWID, no version) is
rebuilt on open with every entry, count and expiry kept; a file of a newer layout is refused;
writers of the first layout's statements keep the counts right on a rebuilt file."""

from __future__ import annotations

import sqlite3

import pytest
from dejacache.stores._sqlite import SQLiteStore
from dejacache.stores._sqlite_schema import SCHEMA_VERSION

# The first layout, as dejacache wrote it before the layout had a version.
LAYOUT0 = """
CREATE TABLE dejacache_entries (
    namespace TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, created REAL NOT NULL, expires REAL,
    last_access REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX dejacache_entries_expires ON dejacache_entries(expires) WHERE expires IS NOT NULL;
CREATE TABLE dejacache_totals (namespace TEXT PRIMARY KEY, entries INTEGER NOT NULL, bytes INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TRIGGER dejacache_entries_ins AFTER INSERT ON dejacache_entries BEGIN
    INSERT INTO dejacache_totals(namespace, entries, bytes) VALUES (NEW.namespace, 1, NEW.size)
    ON CONFLICT(namespace) DO UPDATE SET entries = entries + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER dejacache_entries_del AFTER DELETE ON dejacache_entries BEGIN
    UPDATE dejacache_totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE namespace = OLD.namespace;
END;
CREATE TRIGGER dejacache_entries_upd AFTER UPDATE OF size ON dejacache_entries BEGIN
    UPDATE dejacache_totals SET bytes = bytes - OLD.size + NEW.size WHERE namespace = NEW.namespace;
END;
CREATE INDEX dejacache_entries_lfu ON dejacache_entries(hits, last_access);
"""
UPSERT0 = (
    "INSERT INTO dejacache_entries(namespace, key, value, created, expires, last_access, hits, size)"
    " VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value,"
    " created = excluded.created, expires = excluded.expires, last_access = excluded.last_access,"
    " hits = 0, size = excluded.size"
)
NOW = 1_000_000.0


def k(i: int) -> str:
    return f"{i:032x}"


def layout0_file(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(LAYOUT0)
    rows = [("a", bytes.fromhex(k(i)), b"v%d" % i, NOW, None, NOW, len(b"v%d" % i)) for i in range(50)]
    rows += [("b", bytes.fromhex(k(i)), b"w" * 10, NOW, NOW + 60, NOW, 10) for i in range(7)]
    conn.executemany(UPSERT0, rows)
    conn.close()


def table_sql(path: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = 'dejacache_entries'").fetchone()[0]
    finally:
        conn.close()


def test_a_file_of_the_first_layout_is_rebuilt_with_every_entry(tmp_path):
    path = str(tmp_path / "old.db")
    layout0_file(path)
    assert "WITHOUT ROWID" in table_sql(path)
    store = SQLiteStore(path)
    try:
        stats = dict(store.stats())
        assert (stats["a"]["entries"], stats["a"]["bytes"]) == (50, sum(len(b"v%d" % i) for i in range(50)))
        assert (stats["b"]["entries"], stats["b"]["bytes"]) == (7, 70)
        assert store.get(k(3), "a", NOW + 1) == (b"v3", NOW)
        assert store.get(k(3), "b", NOW + 1) == (b"w" * 10, NOW)
        assert store.get(k(3), "b", NOW + 61) is None  # the expiry came along
        assert store.put(k(99), "a", b"new", NOW)[0] and store.remove(k(0), "a")
        assert dict(store.stats())["a"]["entries"] == 50
    finally:
        store.close()
    assert "WITHOUT ROWID" not in table_sql(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "dejacache_entries_layout0" not in names
        assert {"dejacache_entries_ins", "dejacache_entries_del", "dejacache_entries_upd"} <= names
    finally:
        conn.close()
    SQLiteStore(path, eviction="lfu").close()  # opens again without a rebuild; makes its index


def test_the_first_layouts_writes_keep_the_counts_of_a_rebuilt_file(tmp_path):
    # An older dejacache still running on the file writes with the same statements.
    path = str(tmp_path / "mixed.db")
    SQLiteStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executemany(UPSERT0, [("n", bytes.fromhex(k(i)), b"x" * 5, NOW, None, NOW, 5) for i in range(4)])
    conn.execute(UPSERT0, ("n", bytes.fromhex(k(1)), b"y" * 9, NOW, None, NOW, 9))
    conn.execute("DELETE FROM dejacache_entries WHERE namespace = 'n' AND key = ?", (bytes.fromhex(k(2)),))
    conn.close()
    store = SQLiteStore(path)
    try:
        assert len(store) == 3 and store.bytes == 5 + 9 + 5
    finally:
        store.close()


def test_a_file_of_a_newer_layout_is_refused_untouched(tmp_path):
    path = str(tmp_path / "newer.db")
    SQLiteStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ValueError, match="newer dejacache"):
        SQLiteStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()
