"""Two processes, one Redis Stack (exact entries and vectors) or one PostgreSQL with pgvector
(SQLStore entries and PgVectorStore vectors): an answer one process stores is a semantic hit in
the other, a delete in one is seen by the other, and tenants stay apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dejacache
import pytest

from .conftest import PG_ENV

WORKER = Path(__file__).with_name("_worker.py")
EXACT_ENV = "DEJACACHE_TEST_SHARED_EXACT_URL"


class Worker:
    def __init__(self, exact: str, vector: str):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(dejacache.__file__).parents[1]), env.get("PYTHONPATH")) if p
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), exact, vector],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.info: dict | None = None

    def ready(self) -> Worker:
        self.info = self._read()
        assert "ready" in self.info, self.info
        return self

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"worker exited: {self.proc.stderr.read()[-2000:]}")
        return json.loads(line)

    def __call__(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(params=["redis", "pgvector"])
def shared_urls(request, monkeypatch):
    """(exact store URL, vector store URL, the vector store to clean up afterwards)."""
    from dejacache.vectorstores import open_vector_store

    if request.param == "redis":
        url = request.getfixturevalue("redis_stack").url
        exact, vector = url, url
    else:
        server = request.getfixturevalue("pgvector_server")
        monkeypatch.setenv(EXACT_ENV, server.url.replace("postgresql://", "postgresql+psycopg://", 1))
        exact, vector = f"os.environ/{EXACT_ENV}", f"os.environ/{PG_ENV}"
    yield exact, vector
    # The workers used the default name: leave the server clean for the other tests.
    for dim in (384, 512):
        store = open_vector_store(vector, dim)
        store.drop_all()
        store.close()


def test_an_answer_stored_by_one_process_is_a_semantic_hit_in_the_other(shared_urls):
    exact, vector = shared_urls
    a, b = Worker(exact, vector), Worker(exact, vector)  # both start at once
    try:
        a.ready(), b.ready()
        paris = {"choices": [{"message": {"role": "assistant", "content": "Paris"}}]}
        madrid = {"choices": [{"message": {"role": "assistant", "content": "Madrid"}}]}
        assert b(op="get", text="what is the capital of france") == {"hit": None}
        assert a(op="put", text="What is the capital of France?", answer=paris) == {"ok": True}
        # B never stored it: the vector and its entry come from the shared servers.
        assert b(op="get", text="what is the capital of france") == {"hit": {"source": "semantic", "response": paris}}
        assert b(op="get", text="what is the capital of france", ns="other-tenant") == {"hit": None}
        # And the other way round.
        assert b(op="put", text="What is the capital of Spain?", answer=madrid, ns="t2") == {"ok": True}
        assert a(op="get", text="what is the capital of spain", ns="t2") == {
            "hit": {"source": "semantic", "response": madrid}
        }
        assert a(op="get", text="what is the capital of spain") == {"hit": None}
        # A delete in A: B no longer serves the answer (it is read through the shared exact store).
        assert a(op="delete", text="What is the capital of France?") == {"deleted": True}
        assert b(op="get", text="what is the capital of france") == {"hit": None}
    finally:
        a.close()
        b.close()
