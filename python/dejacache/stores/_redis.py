"""``RedisStore``: the exact tier's entries in Redis (standalone, TLS, Cluster, Sentinel), shared by
every process and host that points at the same server.

Layout
  key    ``dejacache:{KEY_SCHEMA_VERSION}:{namespace, percent-encoded}:{{hexkey}}``. The namespace is
         percent-encoded (everything but letters, digits and ``-._~``), so no namespace text can
         produce a ``:``, a glob character or a brace and forge another namespace's key; the braces
         around the 128-bit key are a Cluster hash tag (entries spread by key; an entry and its
         single-flight lock share a slot).
  value  16 bytes of header (created, expires: little-endian f64; +inf = no expiry) then the value
         bytes, in one string: a hit is one ``GET``. Expiry is set on the server too (``PX``), and
         each read checks the stored expiry and ``max_age`` against the caller's ``now``.

Counters
  hits, misses, stores, expirations: per process, in memory (each process reports its own).
  entries, bytes: read from the server by ``stats()``: a ``SCAN`` of ``dejacache:{v}:*`` on every
  master plus a pipelined ``STRLEN`` per key, so ``stats()``, ``len()`` and ``keys()`` cost
  O(entries) (batched round trips): operator calls, never on the request path. evictions: 0;
  Redis evicts on its own (its ``INFO stats`` ``evicted_keys`` counts them for the whole server).

Caps
  Redis bounds its memory itself: set ``maxmemory`` and ``maxmemory-policy allkeys-lru`` (or
  ``volatile-lru`` when every entry has a ttl) on the server, and give entries a ttl. The store
  refuses a single value over ``max_bytes``; ``max_entries`` is refused with a ValueError, because
  Redis cannot cap a count of keys.
"""

from __future__ import annotations

import asyncio
import re
import struct
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, unquote

from .. import _core
from ._redis_batch import BatchWrites
from ._redis_connect import RedisTarget, make_client, parse_url
from ._redis_fast import FastGet
from ._redis_shared import InvalidationHandle, SharedMixin

_HEADER = struct.Struct("<dd")
_HLEN = _HEADER.size
_unpack = _HEADER.unpack_from
_INF = float("inf")
_HEX = re.compile(r"[0-9a-f]{32}")
_SCAN_BATCH = 500
_LOCAL = ("hits", "misses", "stores", "evictions", "expirations")

__all__ = ["RedisStore", "InvalidationHandle"]


def _norm_key(key: str) -> str:
    # The Rust store accepts any text as a key (non-hex text is hashed); so does this one.
    if len(key) == 32 and _HEX.fullmatch(key):
        return key
    if not isinstance(key, str):
        raise TypeError(f"an entry key is a str (32 hex digits), not {type(key).__name__}")
    return _core.key_of_text(key)


class RedisStore(BatchWrites, SharedMixin):
    """An entry store in Redis. Build it with ``RedisStore.from_url(url, **options)`` or pass a
    ready redis-py client (``RedisStore(client)``; async methods then need ``async_client=``)."""

    def __init__(
        self,
        client: Any,
        *,
        async_client: Any = None,
        max_entries: int | None = None,
        max_bytes: int | None = None,
        default_ttl: float | None = None,
        publish_invalidations: bool = True,
        description: str | None = None,
        _target: RedisTarget | None = None,
        _fast: FastGet | None = None,
    ) -> None:
        if max_entries is not None:
            raise ValueError(
                "RedisStore cannot cap a number of entries: bound Redis with maxmemory and "
                "maxmemory-policy allkeys-lru (and give entries a ttl), or put a memory cache with "
                "max_entries in front of it"
            )
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if default_ttl is not None and default_ttl < 0:
            raise ValueError(f"default_ttl must be >= 0 seconds, got {default_ttl}")
        self._r = client
        self._target = _target
        self._fast = _fast
        self._get = client.get if _fast is None else _fast.get  # the hit's one GET
        self._async_given = async_client
        self._async: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self.max_bytes = max_bytes
        self.default_ttl = default_ttl
        self.publish_invalidations = publish_invalidations
        self._description = description or type(client).__name__
        self._cluster = type(client).__name__ == "RedisCluster"
        self._base = f"dejacache:{_core.KEY_SCHEMA_VERSION}:"
        self._prefixes: dict[str, str] = {}
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_LOCAL, 0))
        self._lock = threading.Lock()
        self._put_sha: str | None = None
        self._use_script = True
        self._init_shared()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """``redis://``, ``rediss://``, ``redis+cluster://``, ``redis+sentinel://`` (see
        ``_redis_connect``). Store options (``max_bytes``, ``default_ttl``, ``max_entries``,
        ``publish_invalidations``) are taken out; the rest go to redis-py."""
        store_opts = {
            name: options.pop(name)
            for name in ("max_entries", "max_bytes", "default_ttl", "publish_invalidations")
            if name in options
        }
        options.pop("eviction", None)  # the server's maxmemory-policy decides
        target = parse_url(url, **options)
        client = make_client(target)
        return cls(client, description=target.safe_url, _target=target, _fast=FastGet.for_target(target), **store_opts)

    def __repr__(self) -> str:
        return f"RedisStore({self._description!r})"

    # -- keys -------------------------------------------------------------------------------

    def _prefix(self, namespace: str) -> str:
        p = self._prefixes.get(namespace)
        if p is None:
            if not isinstance(namespace, str):
                raise TypeError(f"a namespace is a str, not {type(namespace).__name__}")
            p = f"{self._base}{quote(namespace, safe='')}:"
            if len(self._prefixes) < 10_000:
                self._prefixes[namespace] = p
        return p

    def _key(self, key: str, namespace: str) -> str:
        return f"{self._prefix(namespace)}{{{_norm_key(key)}}}"

    def _split(self, rkey: bytes | str) -> tuple[str, str]:
        text = rkey.decode() if isinstance(rkey, bytes) else rkey
        ns, _, hexkey = text[len(self._base) :].rpartition(":")
        return unquote(ns), hexkey.strip("{}")

    def _count(self, namespace: str, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[namespace][name] += n

    # -- reads ------------------------------------------------------------------------------

    def _decode(
        self, raw: bytes | None, namespace: str, now: float, max_age: float | None
    ) -> tuple[bytes, float] | None:
        if raw is None or len(raw) < _HLEN:  # absent (or not an entry of this layout)
            self._count(namespace, "misses")
            return None
        created, expires = _HEADER.unpack_from(raw)
        if expires <= now:
            with self._lock:
                c = self._counts[namespace]
                c["misses"] += 1
                c["expirations"] += 1
            return None
        if max_age is not None and now - created > max_age:
            self._count(namespace, "misses")
            return None
        self._count(namespace, "hits")
        return raw[_HLEN:], created

    def get(self, key: str, namespace: str, now: float, max_age: float | None = None) -> tuple[bytes, float] | None:
        return self._decode(self._get(self._key(key, namespace)), namespace, now, max_age)

    def lookup(
        self, schema: Any, request: Any, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[str, bytes | None, float]:
        key = schema.key(request)
        prefix = self._prefixes.get(namespace) or self._prefix(namespace)
        raw = self._get(f"{prefix}{{{key}}}")
        if raw is not None and len(raw) >= _HLEN:  # a fresh hit, inline: each Python call is ~1 us of it
            created, expires = _unpack(raw)
            if expires > now and (max_age is None or now - created <= max_age):
                with self._lock:
                    self._counts[namespace]["hits"] += 1
                return key, raw[_HLEN:], created
        found = self._decode(raw, namespace, now, max_age)
        return (key, None, 0.0) if found is None else (key, found[0], found[1])

    def contains(self, key: str, namespace: str, now: float) -> bool:
        head = self._r.getrange(self._key(key, namespace), 0, _HLEN - 1)
        return len(head) == _HLEN and _HEADER.unpack(head)[1] > now

    def keys(self, namespace: str) -> list[str]:
        return [self._split(k)[1] for k in self._scan(self._prefix(namespace) + "*")]

    def __len__(self) -> int:
        return sum(1 for _ in self._scan(self._base + "*"))

    def stats(self) -> list[tuple[str, dict[str, int]]]:
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for ns, c in self._counts.items():
                out[ns] = {**c, "entries": 0, "bytes": 0}
        for batch in self._batches(self._base + "*"):
            lengths = self._pipe_each(batch, lambda p, k: p.strlen(k))
            for rkey, n in zip(batch, lengths):
                if not n:
                    continue
                ns = self._split(rkey)[0]
                s = out.setdefault(ns, {**dict.fromkeys(_LOCAL, 0), "entries": 0, "bytes": 0})
                s["entries"] += 1
                s["bytes"] += n - _HLEN
        return sorted(out.items())

    # -- writes -----------------------------------------------------------------------------

    def _encode(self, value: bytes, now: float, ttl: float | None) -> tuple[bytes, int | None] | None:
        if ttl is None:
            ttl = self.default_ttl
        if ttl is not None and ttl <= 0:
            return None
        if self.max_bytes is not None and len(value) > self.max_bytes:
            return None
        if ttl is None:
            return _HEADER.pack(now, _INF) + value, None
        return _HEADER.pack(now, now + ttl) + value, max(1, int(ttl * 1000))

    def put(self, key: str, namespace: str, value: bytes, now: float, ttl: float | None = None) -> tuple[bool, int]:
        rkey = self._key(key, namespace)
        enc = self._encode(value, now, ttl)
        if enc is None:
            return (False, 0)
        self._r.set(rkey, enc[0], px=enc[1])
        self._count(namespace, "stores")
        return (True, 0)

    def put_many(self, items: Sequence[tuple[str, str, bytes, float | None]], now: float) -> int:
        """One round trip per 1,000 items: a Lua script of SETs (standalone and Sentinel; redis-py
        spends more time packing and parsing a pipeline's commands than the server spends on
        them), or a pipeline on a Cluster (one per node) or where scripts are refused."""
        stored: dict[str, int] = defaultdict(int)
        keys: list[str] = []
        args: list[bytes | int] = []
        for key, namespace, value, ttl in items:
            enc = self._encode(value, now, ttl)
            if enc is None:
                continue
            keys.append(self._key(key, namespace))
            args += (enc[0], enc[1] or 0)
            stored[namespace] += 1
        for i in range(0, len(keys), 1000):
            self._write_batch(keys[i : i + 1000], args[2 * i : 2 * i + 2000])
        with self._lock:
            for ns, n in stored.items():
                self._counts[ns]["stores"] += n
        return sum(stored.values())

    def remove(self, key: str, namespace: str) -> bool:
        removed = bool(self._r.unlink(self._key(key, namespace)))
        self._publish(namespace, _norm_key(key))
        return removed

    def clear(self, namespace: str | None = None) -> int:
        """SCAN + UNLINK in batches of 500 on every master; other namespaces are not touched."""
        pattern = self._base + "*" if namespace is None else self._prefix(namespace) + "*"
        removed = 0
        for batch in self._batches(pattern):
            removed += sum(self._pipe_each(batch, lambda p, k: p.unlink(k)))
        self._publish(namespace, None)
        return removed

    def purge_expired(self, now: float) -> int:
        """Removes entries whose stored expiry is at or before ``now`` (the server's PX drops
        them anyway in real time; this is for callers with their own clock)."""
        purged = 0
        for batch in self._batches(self._base + "*"):
            heads = self._pipe_each(batch, lambda p, k: p.getrange(k, 0, _HLEN - 1))
            dead = [k for k, h in zip(batch, heads) if len(h) == _HLEN and _HEADER.unpack(h)[1] <= now]
            if dead:
                purged += sum(self._pipe_each(dead, lambda p, k: p.unlink(k)))
                for k in dead:
                    self._count(self._split(k)[0], "expirations")
        return purged

    # -- scanning ---------------------------------------------------------------------------

    def _scan(self, pattern: str):
        if self._cluster:
            for node in self._r.get_primaries():
                yield from self._r.scan_iter(match=pattern, count=1000, target_nodes=node)
        else:
            yield from self._r.scan_iter(match=pattern, count=1000)

    def _batches(self, pattern: str):
        batch: list[bytes] = []
        for k in self._scan(pattern):
            batch.append(k)
            if len(batch) >= _SCAN_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _pipe_each(self, keys: list[bytes], op: Callable[[Any, bytes], Any]) -> list[Any]:
        pipe = self._r.pipeline(transaction=False)
        for k in keys:
            op(pipe, k)
        return pipe.execute()

    # -- asyncio ----------------------------------------------------------------------------

    def _aclient(self) -> Any:
        if self._async_given is not None:
            return self._async_given
        if self._target is None:
            raise RuntimeError("RedisStore(client) has no async client: pass async_client= or use from_url")
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:  # redis.asyncio connections belong to one event loop
            client = self._async[loop] = make_client(self._target, asyncio=True)
        return client

    async def aget(
        self, key: str, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[bytes, float] | None:
        raw = await self._aclient().get(self._key(key, namespace))
        return self._decode(raw, namespace, now, max_age)

    async def alookup(
        self, schema: Any, request: Any, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[str, bytes | None, float]:
        key = schema.key(request)  # keying stays in Rust, synchronous (microseconds)
        found = await self.aget(key, namespace, now, max_age)
        return (key, None, 0.0) if found is None else (key, found[0], found[1])

    async def aput(
        self, key: str, namespace: str, value: bytes, now: float, ttl: float | None = None
    ) -> tuple[bool, int]:
        rkey = self._key(key, namespace)
        enc = self._encode(value, now, ttl)
        if enc is None:
            return (False, 0)
        await self._aclient().set(rkey, enc[0], px=enc[1])
        self._count(namespace, "stores")
        return (True, 0)

    async def aclose(self) -> None:
        """Closes this event loop's async connections."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        self._close_shared()
        if self._fast is not None:
            self._fast.close()
        self._r.close()
