"""A big ``SQLiteStore.put_many`` without the per-row totals triggers.

The triggers that keep ``dejacache_totals`` run a sub-program per written row (measured: a
bulk upsert costs about 1.6x with them). For a batch of at least ``UNTRIGGERED_ROWS`` rows into
namespaces that hold at most ``RECOUNT_PER_ROW`` entries per batch row, inside the one write
transaction ``put_many`` already holds: the insert and size-update triggers are dropped, the rows
are written, the totals of each touched namespace are counted again from its rows (one aggregate
over the primary-key index, ~0.7 us per entry against ~8 us per row for the triggers), the
triggers are made again from their own stored text, then the transaction commits. Looking up the
sizes of the replaced rows instead (to move the totals by deltas) costs 7-8 us per key, as much
as the triggers: bigger namespaces keep the triggers.

DDL is transactional in SQLite and the write lock is held throughout, so no other connection
or process (an older dejacache writing the same file included) ever sees the file without its
triggers: WAL readers see the snapshot before the batch, and a crash before the commit rolls the
whole batch back, triggers and all. The cost for other connections: the schema changed, so each
re-reads it once and re-prepares its cached statements on its next statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from ._sqlite_schema import BULK_ROWS, UPSERT, UPSERT_BULK

#: Smallest batch written without triggers: below it the schema change (two DROP / CREATE
#: TRIGGER, the re-prepare of the cached upserts here and in every other connection) costs
#: more than the triggers it saves.
UNTRIGGERED_ROWS = 1000
#: The triggers fired by an upsert (the delete trigger is not: an upsert never deletes).
_FIRED = ("dejacache_entries_ins", "dejacache_entries_upd")
#: Counting a namespace again costs about a tenth of what the triggers cost per row: without
#: triggers only while the touched namespaces held at most this many entries per written row.
RECOUNT_PER_ROW = 4
_RECOUNT = (
    "INSERT INTO dejacache_totals(namespace, entries, bytes) SELECT ?, COUNT(*), COALESCE(SUM(size), 0)"
    " FROM dejacache_entries WHERE namespace = ?"
    " ON CONFLICT(namespace) DO UPDATE SET entries = excluded.entries, bytes = excluded.bytes"
)


def write_rows(c: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Writes ``rows`` (``(namespace, key, value, created, expires, last_access, size)``, in
    order: a later row of a key wins) inside the caller's open write transaction, keeping the
    totals exactly as the triggers would."""
    if len(rows) < UNTRIGGERED_ROWS or not _write_untriggered(c, rows):
        _upsert(c, rows)


def _upsert(c: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    whole = len(rows) - len(rows) % BULK_ROWS
    for i in range(0, whole, BULK_ROWS):
        c.execute(UPSERT_BULK, [x for row in rows[i : i + BULK_ROWS] for x in row])
    c.executemany(UPSERT, rows[whole:])


def _write_untriggered(c: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> bool:
    """False (nothing done) when the touched namespaces hold too many entries to count again,
    or the file's triggers are not the two expected ones."""
    namespaces = {row[0] for row in rows}
    held = 0
    for namespace in namespaces:
        found = c.execute("SELECT entries FROM dejacache_totals WHERE namespace = ?", (namespace,)).fetchone()
        held += found[0] if found else 0
    if held > RECOUNT_PER_ROW * len(rows):
        return False
    fired = c.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'dejacache_entries'"
        f" AND name IN {_FIRED!r}"
    ).fetchall()
    if len(fired) != len(_FIRED):
        return False
    for name, _ in fired:
        c.execute(f"DROP TRIGGER {name}")
    _upsert(c, rows)
    c.executemany(_RECOUNT, [(namespace, namespace) for namespace in namespaces])
    for _, sql in fired:
        c.execute(sql)
    return True
