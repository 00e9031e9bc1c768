"""Real PostgreSQL and MariaDB servers on 127.0.0.1, started from the Debian packages in temp
directories (used by this folder's conftest and by benches/bench_stores.py).

PostgreSQL is started by ``tests/pg_server.py`` (shared with tests/vectorstores; it runs the
server as an unprivileged user when we are root). Both servers get a user with a password (no
trust or skip-grant-tables): the stores are tested the way they are used.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from pg_server import Server, ServerMissing, free_port, start_postgres_in, wait_until

__all__ = ["DATABASE", "PASSWORD", "Server", "ServerMissing", "start_mariadb", "start_postgres"]

PASSWORD = "s3cret-Pw-for-tests"
DATABASE = "dejacache_test"


def start_postgres() -> Server:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not bins:
        raise ServerMissing("PostgreSQL is not installed: apt-get install postgresql")
    tmp = tempfile.mkdtemp(prefix="dejacache-pg-")
    proc, port, user = start_postgres_in(
        os.path.dirname(bins[-1]), tmp, password=PASSWORD, database=DATABASE, locale="C.UTF-8"
    )
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

    wait_until(lambda: admin().close(), proc, "mariadbd", log)
    conn = admin()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DATABASE}")
        cur.execute("CREATE USER 'deja'@'127.0.0.1' IDENTIFIED BY %s", (PASSWORD,))
        cur.execute(f"GRANT ALL ON {DATABASE}.* TO 'deja'@'127.0.0.1'")
    conn.close()
    url = f"mysql+pymysql://deja:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    return Server("mariadb", url, port, proc, tmp)
