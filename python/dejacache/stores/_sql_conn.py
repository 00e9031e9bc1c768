"""Connections of ``SQLStore``: creating its tables, one raw DBAPI connection per thread for the
hit path, and the guard that turns a database fault into ``StoreUnavailable`` without the
password."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ._base import StoreUnavailable
from ._sqlschema import Raw


class SQLConnections:
    """Mixed into ``SQLStore``: ``_create``, ``_guard``, ``_raw``, ``_run``, ``_drop_raw``."""

    url: str
    engine: Any
    _read_engine: Any
    _secrets: list[str]
    _local: threading.local
    _lock: threading.Lock
    _raws: list[Any]
    _closed: bool

    def _create(self, item: Any) -> None:
        """Creates the table or an index when missing. Workers starting at once race between
        the check and the CREATE (PostgreSQL reports a duplicate catalog row, MariaDB "already
        exists"): a CREATE that fails while the object now exists lost that race, harmlessly."""
        for attempt in range(3):
            try:
                with self.engine.begin() as c:
                    item.create(c, checkfirst=True)
                return
            except sa.exc.DBAPIError as exc:
                lost_race = isinstance(exc, sa.exc.IntegrityError) or any(
                    words in str(exc.orig) for words in ("already exists", "Duplicate key name")
                )
                if attempt == 2 or not lost_race:
                    raise
                time.sleep(0.05 * (attempt + 1))  # the winner's transaction commits meanwhile

    def _clean(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn``; a database fault becomes ``StoreUnavailable`` without the password
        (raised outside the ``except`` so the driver's error is not chained to it)."""
        try:
            return fn(*args)
        except (sa.exc.SQLAlchemyError, OSError, RuntimeError) as exc:
            message = self._clean(exc)
        except Exception as exc:  # the driver's own errors (raw connections): Error subclasses
            dbapi = getattr(getattr(self, "engine", None), "dialect", None)
            error = getattr(getattr(dbapi, "loaded_dbapi", None), "Error", None)
            if error is None or not isinstance(exc, error):
                raise
            message = self._clean(exc)
        self._drop_raw()
        raise StoreUnavailable(f"SQL store {self.url}: {message}")

    def _raw(self) -> Any:
        try:
            return self._local.raw
        except AttributeError:
            pass
        if self._closed:
            raise ValueError("this SQLStore is closed")
        fairy = self._read_engine.raw_connection()
        raw = (fairy, fairy.cursor())
        with self._lock:
            self._raws.append(raw)
        self._local.raw = raw
        return raw

    def _run(self, stmt: Raw, values: dict[str, Any]) -> Any:
        cursor = self._raw()[1]
        cursor.execute(stmt.sql, stmt.params(values))
        return cursor

    def _drop_raw(self) -> None:
        """Forgets this thread's raw connection after a fault (the next call reconnects)."""
        raw = getattr(self._local, "raw", None)
        if raw is None:
            return
        del self._local.raw
        with self._lock:
            if raw in self._raws:
                self._raws.remove(raw)
        try:
            raw[0].invalidate()
        except Exception:  # noqa: BLE001 - the connection is already broken; nothing to keep
            pass
