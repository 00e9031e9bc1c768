"""Single-flight locks for ``SQLStore``: one row per ``(namespace, key)`` in a lock table beside
the entries table (``<table>_locks``), so processes on any number of hosts sharing one database
make one provider call per identical miss (see ``dejacache._shared_flight``).

A lock row holds a random token and an expiry in wall-clock seconds (``time.time()`` of the
process that wrote it). Every host sharing the database must keep its clock within a fraction of
the lease of the others' (NTP does): the entries' own ``expires`` and ``created`` are written
the same way, so the store already assumes it. A host whose clock runs ahead by more than the
lease could take a live leader's lock (one extra provider call, never a wrong answer).

``try_lead`` deletes an expired row and inserts its own in one transaction; the primary key
decides: an insert that loses to a unique-key violation means another caller leads. On MySQL /
MariaDB the transaction runs at READ COMMITTED, so the delete of a missing row takes no gap lock
(two such deletes followed by two inserts would deadlock at REPEATABLE READ); a transaction that
still loses a deadlock or a write conflict (DuckDB) is retried, and the retry sees the winner's
row; DuckDB reports a key taken by a concurrent transaction at commit, which also means another
caller leads. ``end_lead`` / ``extend_lead`` act only while the token still matches, so a leader whose
lock expired cannot free or keep another leader's lock; ``wait_for`` polls the entry and the
lock (one primary-key read each, on the hit path's connection) with backoff from 1 ms to 50 ms.
A leader that dies leaves its row to expire. Everything is SQLAlchemy Core.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from ._sqlschema import Namespace, Raw
from ._sqlshared import key_bytes

#: Driver messages of a transaction that lost to a concurrent one and may simply be retried.
_CONTENDED = ("deadlock", "lock wait timeout", "could not serialize", "conflict")
#: A unique-key violation found at commit (DuckDB's TransactionException): another caller leads.
_TAKEN_AT_COMMIT = "unique constraint violation"


def lock_table(name: str) -> sa.Table:
    key = sa.LargeBinary(16).with_variant(mysql.BINARY(16), "mysql", "mariadb")
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("namespace", Namespace(), primary_key=True),
        sa.Column("key", key, primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("expires", sa.Double(), nullable=False),
    )


class SQLLocks:
    """Mixed into ``SQLStore``: ``try_lead``, ``end_lead``, ``extend_lead``, ``wait_for``."""

    engine: Any
    backend: str
    _get: Raw
    _create: Callable[[Any], None]
    _guard: Callable[..., Any]
    _run: Callable[[Raw, dict[str, Any]], Any]

    def _setup_locks(self, table: str) -> None:
        """Creates the lock table (when missing) and compiles its statements."""
        self.locks = t = lock_table(f"{table}_locks")
        self._create(t)
        ns: Any = sa.bindparam("ns")
        key: Any = sa.bindparam("k")
        pk = sa.and_(t.c.namespace == ns, t.c.key == key)
        dialect = self.engine.dialect
        mine = sa.and_(pk, t.c.token == sa.bindparam("tok"))
        self._lock_clear = sa.delete(t).where(pk, t.c.expires <= sa.bindparam("now"))
        self._lock_take = sa.insert(t)
        self._lock_end = Raw(sa.delete(t).where(mine), dialect)
        self._lock_extend = Raw(sa.update(t).where(mine).values(expires=sa.bindparam("exp")), dialect)
        held: Any = sa.select(sa.literal_column("1")).select_from(t).where(pk, t.c.expires > sa.bindparam("now"))
        self._lock_held = Raw(held, dialect)

    def try_lead(self, namespace: str, key: str, ttl_s: float) -> str | None:
        """A token when this caller now leads the computation of ``(namespace, key)``, None when
        another caller holds the lock. The lock expires after ``ttl_s`` whatever happens."""
        return self._guard(self._try_lead, namespace, key_bytes(key), ttl_s)

    def _try_lead(self, namespace: str, kb: bytes, ttl_s: float) -> str | None:
        token = uuid.uuid4().hex
        for attempt in range(3):
            now = time.time()
            try:
                with self.engine.connect() as conn:
                    if self.backend in ("mysql", "mariadb"):
                        conn = conn.execution_options(isolation_level="READ COMMITTED")
                    with conn.begin():
                        conn.execute(self._lock_clear, {"ns": namespace, "k": kb, "now": now})
                        row = {"namespace": namespace, "key": kb, "token": token, "expires": now + ttl_s}
                        conn.execute(self._lock_take, row)
                return token
            except sa.exc.IntegrityError:  # the primary key is taken: another caller leads
                return None
            except sa.exc.DBAPIError as exc:
                if _TAKEN_AT_COMMIT in str(exc.orig).lower():
                    return None
                if attempt == 2 or not any(words in str(exc.orig).lower() for words in _CONTENDED):
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def end_lead(self, namespace: str, key: str, token: str) -> bool:
        """Releases the lock if ``token`` still holds it; True when it did."""
        values = {"ns": namespace, "k": key_bytes(key), "tok": token}
        return bool(self._guard(lambda: self._run(self._lock_end, values).rowcount) == 1)

    def extend_lead(self, namespace: str, key: str, token: str, ttl_s: float) -> bool:
        """Gives the lock ``ttl_s`` more seconds if ``token`` still holds it; True when it did."""
        values = {"ns": namespace, "k": key_bytes(key), "tok": token, "exp": time.time() + ttl_s}
        return bool(self._guard(lambda: self._run(self._lock_extend, values).rowcount) == 1)

    def wait_for(self, namespace: str, key: str, now: float, timeout_s: float) -> tuple[bytes, float] | None:
        """Waits for the leader's entry: ``(value, created)``, or None when the lock is gone
        without an entry (the leader failed or stored nothing) or ``timeout_s`` passed. ``now`` is
        the caller's clock at the start. Counts nothing."""
        kb = key_bytes(key)
        pk = {"ns": namespace, "k": kb}
        start = time.monotonic()
        delay = 0.001
        while True:
            found = self._live_entry(pk, now + time.monotonic() - start)
            if found is not None:
                return found
            held = self._guard(lambda: self._run(self._lock_held, {**pk, "now": time.time()}).fetchone()) is not None
            elapsed = time.monotonic() - start
            if not held:  # the leader may have stored and released between the two reads
                return self._live_entry(pk, now + elapsed)
            if elapsed >= timeout_s:
                return None
            time.sleep(min(delay, max(0.0, timeout_s - elapsed)))
            delay = min(delay * 2, 0.05)

    def _live_entry(self, pk: dict[str, Any], now: float) -> tuple[bytes, float] | None:
        row = self._guard(lambda: self._run(self._get, pk).fetchone())
        if row is None:
            return None
        value, created, expires, _ = row
        return None if expires is not None and expires <= now else (bytes(value), created)
