"""``dejacache cache stats|delete|clear --store URL`` and ``dejacache bench --store URL``, through the
CLI's entry function, on SQLite and on a real redis-server with a password (never printed)."""

from __future__ import annotations

import json
import time

import dejacache
import pytest
from dejacache.cli import main

from .conftest import PASSWORD

pytest.importorskip("redis", reason="needs the redis extra: pip install 'dejacache[redis]'")

REQ = {"model": "m", "messages": [{"role": "user", "content": "operator"}]}


@pytest.fixture(params=["sqlite", "redis"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ops.db"
    server = request.getfixturevalue("acl_server")
    server.cli("flushall")
    return f"redis://default:{PASSWORD}@127.0.0.1:{server.port}/0"


def fill(url: str) -> dejacache.Cache:
    cache = dejacache.Cache(store=url)
    cache.put(REQ, {"a": 0})
    for i in range(3):
        cache.put({**REQ, "seed": i}, {"a": i}, namespace="tenant-a")
    cache.put(REQ, {"b": 1}, namespace="tenant-b")
    return cache


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    return rc, out, err


def test_stats_delete_clear(url, capsys):
    cache = fill(url)
    rc, out, _ = run(capsys, "cache", "stats", "--store", url, "--json")
    assert rc == 0
    report = json.loads(out)
    assert {ns: c["entries"] for ns, c in report["namespaces"].items()} == {"default": 1, "tenant-a": 3, "tenant-b": 1}
    if url.startswith("redis"):
        assert report["store"].startswith("redis://default:***@127.0.0.1")
    rc, out, _ = run(capsys, "cache", "stats", "--store", url, "--namespace", "tenant-a")
    assert rc == 0 and "tenant-a" in out and "tenant-b" not in out and " 3 " in out

    # delete by request (keyed as every cache keys it) and by key
    rc, out, _ = run(capsys, "cache", "delete", "--store", url, "--request", json.dumps(REQ))
    assert rc == 0 and out.startswith("deleted")
    assert cache.get(REQ) is None and cache.get(REQ, namespace="tenant-b") is not None
    key = cache.key({**REQ, "seed": 1})
    rc, out, _ = run(capsys, "cache", "delete", "--store", url, "--key", key, "--namespace", "tenant-a")
    assert rc == 0 and out.startswith("deleted")
    rc, out, _ = run(capsys, "cache", "delete", "--store", url, "--key", key, "--namespace", "tenant-a")
    assert rc == 0 and out.startswith("no entry")

    # clear needs a namespace or --all; one namespace leaves the others
    rc, _, err = run(capsys, "cache", "clear", "--store", url)
    assert rc == 2 and "--all" in err
    rc, out, _ = run(capsys, "cache", "clear", "--store", url, "--namespace", "tenant-a")
    assert rc == 0 and "cleared 2 entries" in out
    assert cache.get(REQ, namespace="tenant-b") is not None
    rc, out, _ = run(capsys, "cache", "clear", "--store", url, "--all")
    assert rc == 0 and "cleared 1 entries" in out
    assert len(cache) == 0
    cache.close()


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/x.db"
    rc, _, err = run(capsys, "cache", "delete", "--store", url, "--key", "xyz")
    assert rc == 2 and "32 lowercase hex digits" in err
    with pytest.raises(SystemExit, match="not JSON"):
        main(["cache", "delete", "--store", url, "--request", "{nope"])
    rc, _, err = run(capsys, "cache", "stats", "--store", "os.environ/DEJACACHE_TEST_UNSET_URL")
    assert rc == 2 and "DEJACACHE_TEST_UNSET_URL" in err


def test_an_unreachable_server_is_reported_without_the_password(fresh_server, capsys):
    url = f"redis://default:{PASSWORD}@127.0.0.1:{fresh_server.port}/0"
    fresh_server.kill()
    started = time.monotonic()
    rc, _, err = run(capsys, "cache", "stats", "--store", url)
    assert rc == 1 and "ConnectionError" in err and "***" in err
    assert time.monotonic() - started < 10


def test_bench_on_a_store(url, tmp_path, capsys):
    report = tmp_path / "r.json"
    argv = ["bench", "--store", url, "--requests", "300", "--unique", "30", "--latency-ms", "1"]
    rc, out, _ = run(
        capsys, *argv, "--get-loops", "300", "--concurrency", "4", "--no-progress", "--report", str(report)
    )
    assert rc == 0
    data = json.loads(report.read_text())
    assert PASSWORD not in report.read_text()
    assert data["store"] != "in-process memory" and data["store_errors"] == 0
    assert 0.5 < data["hit_rate"] < 1.0
    assert data["llm_calls"] == data["cache"]["stores"] <= 30
    assert "store " in out
    cache = dejacache.Cache(store=url)  # the run cleaned up its namespace
    assert cache.stats()["namespaces"].get("dejacache-bench", {}).get("entries", 0) == 0
    cache.close()
