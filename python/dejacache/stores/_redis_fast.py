"""The Redis hit path without redis-py: ``GET`` over a lean RESP2 connection per thread.

A hit is one ``GET``. redis-py spends most of a loopback ``GET`` in Python (its connection pool,
retry wrapper, command packer, parser and event hooks: ~5-8x the socket round trip measured on
this machine under load), so ``RedisStore`` reads entries through this instead when the target
is a plain ``redis://host:port/db`` (TLS, unix sockets, Cluster and Sentinel keep redis-py for
every command). Everything else (writes, scans, pub/sub, locks, asyncio) stays on redis-py.

Each thread keeps one socket (TCP_NODELAY), authenticated (``AUTH [user] password``) and on its
database (``SELECT``) when it connects, with the same timeouts as the redis-py client. Any fault
in the middle of a reply closes that socket (the next call reconnects), so a reply is never read
out of step. A reused socket that the server closed (a restart, an idle timeout) is retried once
on a fresh one, like redis-py's own retry; a timeout is never retried. Errors name the host and
port, never the password.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
import weakref
from typing import Any

_CRLF = b"\r\n"
# Linux: the per-operation timeout is set in the kernel (SO_RCVTIMEO / SO_SNDTIMEO) on a blocking
# socket. A Python-level timeout would put the socket in non-blocking mode and make every recv a
# poll() + recv(): one more system call per hit (~3 us of a ~40 us loopback round trip measured
# here). A kernel timeout surfaces as EAGAIN (BlockingIOError), which is raised as TimeoutError.
_KERNEL_TIMEOUTS = sys.platform.startswith("linux")


class RedisReplyError(Exception):
    """The server answered with an error (``-ERR ...``, ``-WRONGTYPE ...``, ``-NOPERM ...``)."""


def _command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


class _Conn:
    """One thread's socket; closed when dropped, or with its thread (no descriptor outlives it)."""

    __slots__ = ("sock", "pid", "__weakref__")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pid = os.getpid()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __del__(self) -> None:
        if self.pid == os.getpid():  # never close a descriptor a forked child inherited
            self.close()


class FastGet:
    """``get(key) -> bytes | None`` on ``host:port`` (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        socket_timeout: float | None = 0.25,
        connect_timeout: float | None = 0.5,
    ) -> None:
        self.address = (host, port)
        self._hello: list[bytes] = []
        if password is not None:
            auth = [b"AUTH"] + ([username.encode()] if username else []) + [password.encode()]
            self._hello.append(_command(*auth))
        if db:
            self._hello.append(_command(b"SELECT", str(db).encode()))
        self.socket_timeout = socket_timeout
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: weakref.WeakSet[_Conn] = weakref.WeakSet()  # for close(); threads own theirs

    @classmethod
    def for_target(cls, target: Any) -> FastGet | None:
        """A reader for a plain ``redis://host:port/db`` target; None for any other."""
        from urllib.parse import urlsplit

        if target.kind != "standalone" or target.tls or not target.url.lower().startswith("redis://"):
            return None
        parts = urlsplit(target.url)
        if parts.hostname is None or parts.query:  # options in the query string: leave them to redis-py
            return None
        opts = target.options
        return cls(
            parts.hostname,
            parts.port or 6379,
            db=target.db,
            username=target.username,
            password=target.password,
            socket_timeout=opts.get("socket_timeout"),
            connect_timeout=opts.get("socket_connect_timeout"),
        )

    def __repr__(self) -> str:
        return f"FastGet({self.address[0]}:{self.address[1]})"

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> _Conn:
        sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            timeout = self.socket_timeout
            if _KERNEL_TIMEOUTS and timeout is not None and timeout > 0:
                sock.settimeout(None)
                whole = int(timeout)
                usec = min(999_999, round((timeout - whole) * 1e6)) or (0 if whole else 1)  # 0/0 = never
                tv = struct.pack("ll", whole, usec)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            else:
                sock.settimeout(timeout)
            for command in self._hello:
                try:
                    sock.sendall(command)
                    reply = self._line(sock, b"")[0]
                except BlockingIOError as exc:
                    raise TimeoutError(f"{self.address[0]}:{self.address[1]} timed out") from exc
                if not reply.startswith(b"+"):
                    raise RedisReplyError(
                        f"{self.address[0]}:{self.address[1]} refused the connection setup: "
                        f"{reply[1:].decode(errors='replace').split(' ', 1)[0]}"
                    )
        except BaseException:
            sock.close()
            raise
        conn = _Conn(sock)
        self._local.conn = conn
        with self._lock:
            self._conns.add(conn)
        return conn

    def _drop(self, conn: _Conn) -> None:
        self._local.conn = None
        with self._lock:
            self._conns.discard(conn)
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns = list(self._conns)
            self._conns = weakref.WeakSet()
        for conn in conns:
            conn.close()
        self._local = threading.local()

    # -- replies ----------------------------------------------------------------------------

    @staticmethod
    def _line(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes]:
        """(first line of the reply without CRLF, the bytes after it)."""
        while True:
            i = buf.find(_CRLF)
            if i >= 0:
                return buf[:i], buf[i + 2 :]
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the Redis server closed the connection")
            buf += chunk

    def _roundtrip(self, sock: socket.socket, command: bytes) -> bytes | None:
        try:
            sock.sendall(command)
            data = sock.recv(65536)
            if data[:1] == b"$":  # the usual hit: one whole bulk string in one read, parsed inline
                i = data.find(_CRLF)
                if i > 0:
                    end = i + 2 + int(data[1:i])
                    if len(data) == end + 2 and end > i + 2:
                        return data[i + 2 : end]
            if not data:
                raise ConnectionError("the Redis server closed the connection")
            return self._reply(sock, data)
        except BlockingIOError as exc:
            raise TimeoutError(f"{self.address[0]}:{self.address[1]} timed out") from exc

    def _reply(self, sock: socket.socket, data: bytes) -> bytes | None:
        """The reply to GET whose first bytes are ``data`` (any shape: nil, error, partial)."""
        head, rest = self._line(sock, data)
        kind = head[:1]
        if kind == b"$":
            n = int(head[1:])
            if n < 0:
                return None
            if len(rest) >= n + 2:
                if len(rest) != n + 2:
                    raise ConnectionError("unexpected bytes after a Redis reply")
                return rest[:n]
            body = bytearray(n + 2)
            body[: len(rest)] = rest
            view = memoryview(body)
            got = len(rest)
            while got < n + 2:
                k = sock.recv_into(view[got:])
                if not k:
                    raise ConnectionError("the Redis server closed the connection")
                got += k
            return bytes(body[:n])
        if kind == b"-":
            if rest:
                raise ConnectionError("unexpected bytes after a Redis reply")
            raise RedisReplyError(head[1:].decode(errors="replace"))
        raise ConnectionError(f"unexpected Redis reply type {kind!r} to GET")

    # -- the one command --------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        kb = key.encode()
        command = b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(kb), kb)
        conn: _Conn | None = getattr(self._local, "conn", None)
        fresh = conn is None or conn.pid != os.getpid()
        if conn is None or fresh:  # none yet on this thread, or inherited through fork(): never share a parent's
            conn = self._connect()
        try:
            return self._roundtrip(conn.sock, command)
        except RedisReplyError:
            raise  # a whole reply was read: the connection is still in step
        except BaseException as exc:
            self._drop(conn)
            if fresh or isinstance(exc, TimeoutError) or not isinstance(exc, OSError):
                raise
        conn = self._connect()  # the server closed a reused connection: once more, on a new one
        try:
            return self._roundtrip(conn.sock, command)
        except RedisReplyError:
            raise
        except BaseException:
            self._drop(conn)
            raise
