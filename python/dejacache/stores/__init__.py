"""Entry stores for the exact tier: in-process memory (the default), SQLite, Redis, SQL databases.

``Cache(store=...)`` takes a store object or a URL; ``open_store`` turns a URL into a store:

>>> from dejacache.stores import open_store
>>> store = open_store("sqlite:///tmp/dejacache-doctest.db")        # doctest: +SKIP
>>> cache = dejacache.Cache(store="redis://localhost:6379/0")         # doctest: +SKIP

- ``sqlite:///path/cache.db`` or a plain path: ``SQLiteStore`` (embedded, WAL, persistent).
- ``redis://``, ``rediss://`` (TLS), ``unix://``, ``redis+cluster://h:p,h:p``,
  ``redis+sentinel://h:p,h:p/service``: ``RedisStore`` (extra ``redis``).
- ``postgresql://``, ``mysql://``, ``mariadb://``, ``duckdb:///path`` and any other SQLAlchemy
  URL: ``SQLStore`` (extras ``sql`` plus ``postgres`` / ``mysql`` / ``duckdb``).
- A value written ``os.environ/NAME`` is read from the environment (LiteLLM's convention), so
  a config file need not hold a password.

Store classes and their client libraries are imported on first use.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from ._base import COUNTER_NAMES, BulkEntryStore, EntryStore, StoreUnavailable

if TYPE_CHECKING:
    from ._guard import GuardedStore
    from ._redis import RedisStore
    from ._sql import SQLStore
    from ._sqlite import SQLiteStore

__all__ = [
    "COUNTER_NAMES",
    "BulkEntryStore",
    "EntryStore",
    "GuardedStore",
    "MemoryStore",
    "RedisStore",
    "SQLStore",
    "SQLiteStore",
    "StoreUnavailable",
    "open_store",
    "resolve_secret",
]

_LAZY = {
    "GuardedStore": "._guard",
    "RedisStore": "._redis",
    "SQLStore": "._sql",
    "SQLiteStore": "._sqlite",
}
_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel")
_ENV_PREFIX = "os.environ/"


def __getattr__(name: str) -> Any:
    if name == "MemoryStore":
        from .._core import EntryStore as MemoryStore

        return MemoryStore
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dejacache.stores' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def resolve_secret(value: Any, where: str = "value") -> Any:
    """``os.environ/NAME`` -> the environment variable NAME (a ValueError naming it when unset);
    anything else unchanged."""
    if isinstance(value, str) and value.startswith(_ENV_PREFIX):
        name = value[len(_ENV_PREFIX) :]
        found = os.environ.get(name)
        if not name or found is None:
            raise ValueError(f"{where} is {value!r} but the environment variable {name!r} is not set")
        return found
    return value


def store_kind(url: str) -> str:
    """``"sqlite"``, ``"redis"`` or ``"sql"`` for a store URL (a plain path is SQLite)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme or scheme == "sqlite" and url.lower().startswith("sqlite:///"):
        return "sqlite"
    if scheme in _REDIS_SCHEMES:
        return "redis"
    return "sql"


def open_store(target: Any, **options: Any) -> EntryStore:
    """A store from a URL or path (see the module docstring); a store object is returned as it
    is. ``options`` are the store class's keyword arguments (caps, timeouts, TLS files, ...).

    >>> open_store("ftp://x")                                              # doctest: +SKIP
    ValueError: ...
    """
    if isinstance(target, EntryStore) and not isinstance(target, (str, os.PathLike)):
        return target
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    target = resolve_secret(target, "store")
    if not isinstance(target, str) or not target:
        raise TypeError(f"store must be a URL, a path or a dejacache.stores entry store, not {target!r}")
    options = {name: resolve_secret(value, name) for name, value in options.items()}
    kind = store_kind(target)
    if kind == "sqlite":
        from ._sqlite import SQLiteStore

        return SQLiteStore.from_url(target, **options) if "://" in target else SQLiteStore(target, **options)
    if kind == "redis":
        from ._redis import RedisStore

        return RedisStore.from_url(target, **options)
    from ._sql import SQLStore

    return SQLStore.from_url(target, **options)


def open_for_cache(
    url: Any, max_entries: int | None, max_bytes: int | None, ttl: float | None, eviction: str
) -> EntryStore:
    """The store a URL names, with the cache's caps, behind the fail-open guard: a backend that
    is down or slow makes misses (counted in ``stats()``), never a failed call."""
    from ._guard import GuardedStore

    if store_kind(os.fspath(url)) == "redis":
        # Redis caps its memory itself (maxmemory + an allkeys-lru policy): max_entries and the
        # eviction policy are the server's, not ours.
        options: dict[str, Any] = {"max_bytes": max_bytes, "default_ttl": ttl}
    else:
        options = {"max_entries": max_entries, "max_bytes": max_bytes, "default_ttl": ttl, "eviction": eviction}
    return GuardedStore(open_store(url, **options))
