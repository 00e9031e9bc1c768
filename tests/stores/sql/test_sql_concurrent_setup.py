"""Many workers starting at once on one database: each makes the table and its indexes if they
are missing, and none fails because another made them first (PostgreSQL's CREATE INDEX and
MariaDB's CREATE TABLE race even with checkfirst)."""

from __future__ import annotations

import threading
import uuid

import pytest


@pytest.mark.parametrize("server_fixture", ["postgres_server", "mariadb_server"])
def test_stores_opened_at_once_on_a_fresh_table_all_open(server_fixture, request):
    server = request.getfixturevalue(server_fixture)
    from dejacache.stores._sql import SQLStore

    for round_ in range(3):  # a race is not lost every time: several fresh tables
        table = f"race_{uuid.uuid4().hex[:10]}"
        start = threading.Barrier(6)
        opened: list[SQLStore] = []
        errors: list[BaseException] = []

        def open_one() -> None:
            start.wait()
            try:
                opened.append(SQLStore(server.url, table=table))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        try:
            assert not errors, f"round {round_}: {errors[0]!r}"
            opened[0].put("0" * 32, "ns", b"v", 1.0)
            assert all(s.get("0" * 32, "ns", 2.0) is not None for s in opened)
        finally:
            if opened:
                opened[0].table.drop(opened[0].engine, checkfirst=True)
            for s in opened:
                s.close()
