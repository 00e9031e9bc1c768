"""Redis URLs to redis-py clients (sync and asyncio): standalone, TLS, Cluster and Sentinel.

URL forms (the password may be given in the URL or as ``password=``; it is never shown again):

- ``redis://[user:password@]host:port/db`` and ``unix:///path/redis.sock?db=0``;
- ``rediss://...``: TLS. Options ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``,
  ``ssl_cert_reqs`` (``"required"``, ``"optional"``, ``"none"``), ``ssl_check_hostname``;
- ``redis+cluster://[user:password@]host:port,host:port`` (or ``rediss+cluster://``), or any
  cluster URL plus ``startup_nodes=[("host", port), ...]``;
- ``redis+sentinel://[user:password@]host:port,host:port/service_name[/db]`` (or
  ``rediss+sentinel://``); ``sentinel_password=`` when the sentinels themselves need one.

Timeouts are small by default (``socket_timeout=0.25``, ``socket_connect_timeout=0.5`` seconds)
and a command is retried once only when the connection was refused or reset (never after a
timeout), so a stalled server costs one timeout per operation, not several.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .._urls import redact

DEFAULT_SOCKET_TIMEOUT = 0.25
DEFAULT_CONNECT_TIMEOUT = 0.5

_SSL_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname", "ssl_ca_path")
_KINDS = {
    "redis": ("standalone", False),
    "rediss": ("standalone", True),
    "unix": ("standalone", False),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
}


@dataclass
class RedisTarget:
    """A parsed Redis URL. ``safe_url`` is the URL with the password replaced by ``***``."""

    kind: str
    url: str = field(repr=False)
    safe_url: str
    tls: bool
    hosts: list[tuple[str, int]]
    db: int
    service: str | None
    username: str | None
    password: str | None = field(repr=False)
    options: dict[str, Any] = field(repr=False)


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    hosts = []
    for item in netloc.rsplit("@", 1)[-1].split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":") if item.count(":") == 1 or item.startswith("[") else (item, "", "")
        if not sep:
            host, port = item, str(default_port)
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def parse_url(url: str, **options: Any) -> RedisTarget:
    """Parses a Redis URL; raises ValueError naming the accepted forms (never the password)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _KINDS:
        raise ValueError(
            f"not a Redis URL: {redact(url)!r}; use redis://host:port/db, rediss://..., "
            "redis+cluster://host:port,host:port or redis+sentinel://host:port/service_name"
        )
    kind, tls = _KINDS[scheme]
    options = dict(options)
    options.setdefault("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
    options.setdefault("socket_connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    userinfo = netloc.rsplit("@", 1)[0] if "@" in netloc else ""
    username = unquote(userinfo.split(":", 1)[0]) if userinfo else None
    password = unquote(userinfo.split(":", 1)[1]) if ":" in userinfo else None
    username = options.pop("username", username) or None
    password = options.pop("password", password)
    path = url.split("://", 1)[1][len(netloc) :].split("?", 1)[0].strip("/")
    service = None
    db = 0
    hosts: list[tuple[str, int]] = []
    if kind == "sentinel":
        segments = [s for s in path.split("/") if s]
        if not segments:
            raise ValueError(
                f"a Sentinel URL names the service: redis+sentinel://host:port/service_name (got {redact(url)!r})"
            )
        service = unquote(segments[0])
        db = int(segments[1]) if len(segments) > 1 else 0
        hosts = _hosts(netloc, 26379)
    elif kind == "cluster":
        nodes = options.pop("startup_nodes", None)
        hosts = [(str(h), int(p)) for h, p in nodes] if nodes else _hosts(netloc, 6379)
        if not hosts:
            raise ValueError(f"a Cluster URL names at least one node (got {redact(url)!r})")
    elif scheme != "unix":
        db = int(path) if path.isdigit() else 0
    for name in _SSL_OPTIONS:
        if name in options and not tls:
            raise ValueError(f"{name} is a TLS option: use a rediss:// URL (got {redact(url)!r})")
    return RedisTarget(kind, url, redact(url), tls, hosts, db, service, username, password, options)


def _retry(asyncio: bool) -> Any:
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    if asyncio:
        from redis.asyncio.retry import Retry as AsyncRetry

        return AsyncRetry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    from redis.retry import Retry

    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


def _common(target: RedisTarget, asyncio: bool) -> dict[str, Any]:
    kw = dict(target.options)
    kw.setdefault("retry", _retry(asyncio))
    if target.username is not None:
        kw["username"] = target.username
    if target.password is not None:
        kw["password"] = target.password
    if target.tls and target.kind != "standalone":
        kw["ssl"] = True
    return kw


def make_client(target: RedisTarget, *, asyncio: bool = False) -> Any:
    """A redis-py client for ``target`` (``redis.asyncio`` when ``asyncio``); connects lazily."""
    kw = _common(target, asyncio)
    if target.kind == "standalone":
        if asyncio:
            from redis.asyncio import Redis as AsyncRedis

            return AsyncRedis.from_url(target.url, **kw)
        from redis import Redis

        return Redis.from_url(target.url, **kw)
    if target.kind == "cluster":
        kw.pop("retry", None)  # the cluster client retries by re-reading the slot map
        if asyncio:
            from redis.asyncio.cluster import ClusterNode as AsyncNode
            from redis.asyncio.cluster import RedisCluster as AsyncCluster

            return AsyncCluster(startup_nodes=[AsyncNode(h, p) for h, p in target.hosts], **kw)
        from redis.cluster import ClusterNode, RedisCluster

        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in target.hosts], **kw)
    service = target.service or ""
    sentinel_kw = {"password": kw.pop("sentinel_password", None)}
    for name in ("socket_timeout", "socket_connect_timeout", "ssl", *_SSL_OPTIONS):
        if name in kw:
            sentinel_kw[name] = kw[name]
    if asyncio:
        from redis.asyncio.sentinel import Sentinel as AsyncSentinel

        return AsyncSentinel(target.hosts, sentinel_kwargs=sentinel_kw).master_for(service, db=target.db, **kw)
    from redis.sentinel import Sentinel

    return Sentinel(target.hosts, sentinel_kwargs=sentinel_kw).master_for(service, db=target.db, **kw)
