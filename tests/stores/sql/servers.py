"""Real PostgreSQL and MariaDB servers on 127.0.0.1, started from the Debian packages in temp
directories (used by this folder's conftest and by benches/bench_stores.py).

PostgreSQL refuses to run as root: as root, the data directory is given to the ``postgres``
user (made by the Debian package) and the server runs as that user. Both servers get a user
with a password (no trust or skip-grant-tables): the stores are tested the way they are used.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

PASSWORD = "s3cret-Pw-for-tests"
DATABASE = "dejacache_test"


class ServerMissing(RuntimeError):
    """The server's binaries are not installed; the message names the Debian package."""


@dataclass
class Server:
    name: str
    url: str  # SQLAlchemy URL with user and password
    port: int
    proc: subprocess.Popen
    tmp: str
    extra: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
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
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer in {timeout:.0f} s ({last}): {_tail(log)}")


def _tail(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-2000:]
    except OSError:
        return ""


def start_postgres() -> Server:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not bins:
        raise ServerMissing("PostgreSQL is not installed: apt-get install postgresql")
    bindir = os.path.dirname(bins[-1])
    tmp = tempfile.mkdtemp(prefix="dejacache-pg-")
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    data, sock, log = os.path.join(tmp, "data"), os.path.join(tmp, "sock"), os.path.join(tmp, "log")
    os.mkdir(sock)
    pwfile = os.path.join(tmp, "pw")
    with open(pwfile, "w") as f:
        f.write(PASSWORD)
    if as_root:
        pw = pwd.getpwnam("postgres")
        for path in (tmp, sock, pwfile):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    subprocess.run(
        [
            *run_as,
            f"{bindir}/initdb",
            "-D",
            data,
            "-U",
            user,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    logf = open(log, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [
            *run_as,
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
        ],
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    import psycopg

    admin = f"host=127.0.0.1 port={port} user={user} password={PASSWORD} dbname=postgres connect_timeout=2"

    def ready() -> None:
        psycopg.connect(admin).close()

    _wait(ready, proc, "postgres", log)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    url = f"postgresql+psycopg://{user}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    return Server("postgresql", url, port, proc, tmp, {"user": user})


def start_mariadb() -> Server:
    mariadbd = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
    install = shutil.which("mariadb-install-db")
    if not mariadbd or not install:
        raise ServerMissing("MariaDB is not installed: apt-get install mariadb-server")
    tmp = tempfile.mkdtemp(prefix="dejacache-maria-")
    data, sock, log = os.path.join(tmp, "data"), os.path.join(tmp, "mysqld.sock"), os.path.join(tmp, "log")
    me = pwd.getpwuid(os.geteuid()).pw_name
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            f"--user={me}",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    logf = open(log, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [
            mariadbd,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            f"--socket={sock}",
            "--bind-address=127.0.0.1",
            f"--user={me}",
            f"--pid-file={tmp}/mysqld.pid",
            "--innodb-buffer-pool-size=64M",
            "--max-connections=200",
            "--skip-log-bin",
        ],
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    import pymysql

    def admin():
        # The unix user running mariadb-install-db owns the server's admin account by socket auth.
        return pymysql.connect(unix_socket=sock, user=me if me != "root" else "root", connect_timeout=2)

    _wait(lambda: admin().close(), proc, "mariadbd", log)
    conn = admin()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DATABASE}")
        cur.execute("CREATE USER 'deja'@'127.0.0.1' IDENTIFIED BY %s", (PASSWORD,))
        cur.execute(f"GRANT ALL ON {DATABASE}.* TO 'deja'@'127.0.0.1'")
    conn.close()
    url = f"mysql+pymysql://deja:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    return Server("mariadb", url, port, proc, tmp)
