"""Real redis-server processes on 127.0.0.1 for the Redis store tests (Debian: redis-server,
redis-tools, openssl)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
OPENSSL = shutil.which("openssl")


def need(binary: str | None, package: str) -> None:
    if binary is None:
        pytest.skip(f"needs {package} (Debian: apt-get install {package})")


def free_port(bus: bool = False) -> int:
    """A free TCP port on 127.0.0.1 (with port + 10000 free too for a Cluster bus)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not bus:
            return port
        if port + 10000 < 65536:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port pair")


class RedisServer:
    """One redis-server; ``port`` is where clients connect (the TLS port for a TLS server)."""

    def __init__(
        self,
        workdir: Path,
        *args: str,
        port: int | None = None,
        tls: dict | None = None,
        password: str | None = None,
        conf: str = "",
        config_path: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port(bus="--cluster-enabled" in args)
        self.tls = tls
        self.password = password
        self.args = list(args)
        self.conf = conf
        self.config_path = config_path
        self.proc: subprocess.Popen | None = None
        self.start()

    def command(self) -> list[str]:
        cmd = [REDIS_SERVER]
        if self.config_path:
            cmd.append(self.config_path)  # a sentinel's config file, which it rewrites
        if self.conf:
            path = self.workdir / "extra.conf"
            path.write_text(self.conf)
            cmd.append(str(path))
        cmd += [
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--logfile",
            str(self.workdir / "redis.log"),
            "--protected-mode",
            "no",
        ]
        if not self.config_path:
            cmd += ["--save", "", "--appendonly", "no"]
        if self.tls:
            cmd += [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                self.tls["server_cert"],
                "--tls-key-file",
                self.tls["server_key"],
                "--tls-ca-cert-file",
                self.tls["ca"],
                "--tls-auth-clients",
                "yes",
            ]
        else:
            cmd += ["--port", str(self.port)]
        return cmd + self.args

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.workdir / "redis.log").read_text() if (self.workdir / "redis.log").exists() else ""
                raise RuntimeError(f"redis-server exited: {log[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def cli(self, *args: str) -> str:
        cmd = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)]
        if self.password:
            cmd += ["--no-auth-warning", "-a", self.password]
        if self.tls:
            cmd += [
                "--tls",
                "--cacert",
                self.tls["ca"],
                "--cert",
                self.tls["client_cert"],
                "--key",
                self.tls["client_key"],
            ]
        return subprocess.run(cmd + list(args), check=True, capture_output=True, text=True, timeout=30).stdout

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def make_certs(directory: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 / localhost and a client certificate."""
    need(OPENSSL, "openssl")
    d = directory
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=60)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=dejacache test CA",
        "-keyout",
        str(d / "ca.key"),
        "-out",
        str(d / "ca.crt"),
    )
    ext = d / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, extra in (("server", ["-extfile", str(ext)]), ("client", [])):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(d / f"{name}.key"),
            "-out",
            str(d / f"{name}.csr"),
        )
        run(
            "x509",
            "-req",
            "-in",
            str(d / f"{name}.csr"),
            "-CA",
            str(d / "ca.crt"),
            "-CAkey",
            str(d / "ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            str(d / f"{name}.crt"),
            *extra,
        )
    return {
        "ca": str(d / "ca.crt"),
        "server_cert": str(d / "server.crt"),
        "server_key": str(d / "server.key"),
        "client_cert": str(d / "client.crt"),
        "client_key": str(d / "client.key"),
    }


def make_cluster(workdir: Path) -> list[RedisServer]:
    """Three masters with ``cluster-enabled yes``, joined with ``redis-cli --cluster create``."""
    nodes = [
        RedisServer(
            workdir / f"node{i}",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(workdir / f"node{i}" / "nodes.conf"),
            "--cluster-node-timeout",
            "2000",
        )
        for i in range(3)
    ]
    try:
        subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *[f"127.0.0.1:{n.port}" for n in nodes],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 20
        while "cluster_state:ok" not in "".join(n.cli("cluster", "info") for n in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok")
            time.sleep(0.1)
        while not all("cluster_state:ok" in n.cli("cluster", "info") for n in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok on every node")
            time.sleep(0.1)
    except BaseException:
        for n in nodes:
            n.stop()
        raise
    return nodes
