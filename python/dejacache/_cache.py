"""The public ``Cache``: exact-match caching of LLM requests over the Rust entry store."""

from __future__ import annotations

import logging
import os
import sys
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from . import _core
from ._cache_calls import Calls
from ._cache_writes import Writes
from ._codec import ENVELOPE_VERSION, decode
from ._controls import EXCLUDED_PARAMS, Controls, check_namespace, check_seconds, parse_controls, short_repr
from ._core import Hit
from ._protocols import StoreAs
from ._savings import FOLD_AT, Savings
from ._shared_flight import SharedFlights, lock_capable, store_has
from ._singleflight import AsyncFlights, StreamFlights, ThreadFlights
from ._stats import assemble_stats
from ._tiers import LowerLevel, SemanticStage, Tier, Tiers
from .stores._base import EntryStore

log = logging.getLogger("dejacache")

_EVICTIONS = ("lru", "lfu", "fifo")
#: Largest max_entries / max_bytes: what the core's counters (usize) hold.
MAX_CAP = sys.maxsize
_loads = orjson.loads

__all__ = ["Cache", "StoreAs"]


class Cache(Calls, Writes):
    """An LLM call cache. An identical request is answered from memory in microseconds.

    A request is an OpenAI-style dict (``model``, ``messages`` / ``prompt`` / ``input`` and
    parameters). Every parameter is part of the key except those in
    ``dejacache.EXCLUDED_PARAMS`` (cache controls, streaming flags, tracing metadata,
    credentials and timeouts). Key order never matters, and ``1`` equals ``1.0``.

    >>> cache = Cache(max_entries=10_000, ttl=3600)
    >>> req = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    >>> cache.call(req, lambda r: {"answer": 42})
    {'answer': 42}
    >>> cache.call(req, lambda r: {"answer": 0})
    {'answer': 42, 'cache': True}

    Args:
        max_entries: most entries held (None: no limit).
        max_bytes: most bytes of stored responses held (None: no limit).
        ttl: default seconds an entry lives (None: until evicted).
        eviction: ``"lru"`` (default), ``"lfu"`` or ``"fifo"``.
        namespace: the default tenant; entries never cross namespaces.
        key_func: ``request -> str`` replacing the canonical key.
        semantic: ``True`` (defaults) or a ``dejacache.Semantic`` turns on semantic hits: a
            request meaning the same as a stored one, with the same model, parameters and
            earlier turns, is answered too (``Hit.source == "semantic"``). The exact tier is
            always tried first.
        next_cache: a lower-level ``Cache`` (or a dict of its arguments) tried after this one
            misses; its hits are copied up into this one, and answers and deletes go to every level.
        store: where the exact entries live: None (in-process memory, the default), a URL or
            path (``sqlite:///c.db``, ``redis://host:6379/0``, ``postgresql://...``; see
            ``dejacache.stores``), opened with this cache's caps behind a fail-open guard, or a
            store object.
        clock: ``() -> seconds``, for tests (default ``time.time``).
        opt_in: ``True`` makes the cache off by default: a call reads and stores only when it
            asks with ``cache={"use-cache": True}`` (LiteLLM's ``mode="default_off"``).
    """

    def __init__(
        self,
        max_entries: int | None = 100_000,
        max_bytes: int | None = None,
        ttl: float | None = None,
        eviction: str = "lru",
        namespace: str = "default",
        key_func: Callable[[Any], str] | None = None,
        *,
        semantic: Any = None,
        next_cache: Cache | Mapping[str, Any] | None = None,
        store: EntryStore | None = None,
        clock: Callable[[], float] | None = None,
        opt_in: bool = False,
    ):
        for name, cap in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_CAP):
                raise ValueError(
                    f"{name} must be a whole number from 1 to {MAX_CAP}, or None for no limit; got {short_repr(cap)}"
                )
        if eviction not in _EVICTIONS:
            raise ValueError(f"eviction must be one of {_EVICTIONS}, not {eviction!r}")
        ttl = check_seconds("ttl", ttl)
        if key_func is not None and not callable(key_func):
            raise TypeError(f"key_func must be a callable request -> str, not {key_func!r}")
        if store is None:
            store = _core.EntryStore(max_entries, max_bytes, ttl, eviction)
        elif isinstance(store, (str, os.PathLike)):
            from .stores import open_for_cache

            store = open_for_cache(store, max_entries, max_bytes, ttl, eviction)
        elif not isinstance(store, EntryStore):
            raise TypeError(f"store must be a URL, a path or a dejacache.stores entry store, not {store!r}")
        self._store = store
        self._schema = _core.KeySchema(list(EXCLUDED_PARAMS))
        if not isinstance(opt_in, bool):
            raise ValueError(f"opt_in must be True or False, not {opt_in!r}")
        self._defaults = Controls(not opt_in, not opt_in, None, None, check_namespace(namespace))
        self.opt_in = opt_in
        self._key_func = key_func
        self._clock = clock or time.time
        self._flights = ThreadFlights()
        self._async_flights = AsyncFlights()
        self._stream_flights = StreamFlights()  # used by the SDK wrappers' streamed misses
        self._savings = Savings()
        self._savings_pending = self._savings.pending
        self.max_entries, self.max_bytes, self.ttl, self.eviction = max_entries, max_bytes, ttl, eviction
        self.namespace = namespace
        # --- the tiers after the exact store: used only after an exact miss ---
        tiers: list[Tier] = []
        if semantic is not None and semantic is not False:
            from ._semantic.tier import SemanticTier

            self._semantic: Any = SemanticTier(
                semantic, store=self._store, schema=self._schema, clock=self._clock, savings=self._savings
            )
            tiers.append(SemanticStage(self._semantic))
        else:
            self._semantic = None
        if isinstance(next_cache, Mapping):  # the keyword arguments load_config returns
            next_cache = Cache(**next_cache)
        if next_cache is not None:
            if not isinstance(next_cache, Cache):
                raise TypeError(f"next_cache must be a dejacache.Cache, not {next_cache!r}")
            level: Cache | None = next_cache
            while level is not None:
                if level is self:
                    raise ValueError("next_cache would make a loop of caches")
                level = level._next
            tiers.append(LowerLevel(next_cache))
        self._next: Cache | None = next_cache
        self._tiers = Tiers(tiers, self._write) if tiers else None
        self._shared_flights = self._find_shared_flights()
        # acall: the in-process store answers inline (microseconds); a store with async methods
        # (Redis) is awaited; any other store's I/O runs in a thread, off the event loop.
        self._local_store = isinstance(self._store, _core.EntryStore)
        # The in-process store serves a whole exact hit in one Rust call (it counts the savings
        # of the hits it serves; every other read counts them in self._savings).
        self._store_hit = self._store.hit if self._local_store and key_func is None else None
        path = (
            _core.HitPath(self._store, self._schema, self._defaults.namespace, self._clock)
            if self._store_hit is not None and self._defaults.read
            else None
        )
        # Bound methods kept, so a hit pays no attribute lookup for them.
        self._default_get = None if path is None else path.get
        self._default_call = None if path is None else path.call
        self._async_store = store_has(self._store, "alookup", "aget", "aput")
        self._unfollow: Callable[[], Any] | None = None
        self._follow_invalidations()

    def _follow_invalidations(self) -> None:
        """Keeps this level coherent with a shared store below it: a delete or clear made by any
        process on that store (Redis pub/sub) removes the same entries here within milliseconds;
        after a lost connection (messages missed) this level is cleared."""
        if store_has(self._store, "subscribe_invalidations"):
            return  # this level is the shared store itself
        level = self._next
        while level is not None and not store_has(level._store, "subscribe_invalidations"):
            level = level._next
        if level is None:
            return
        local: Any = self._store
        shared: Any = level._store

        def forget(namespace: str | None, key: str | None) -> None:
            if key is None:
                local.clear(namespace)
            elif namespace is not None:
                local.remove(key, namespace)

        try:
            handle = shared.subscribe_invalidations(
                forget, ignore_own=True, on_reconnect=lambda: local.clear(None), wait_s=1.0
            )
        except Exception as exc:  # noqa: BLE001 - a cache without coherence still answers
            log.warning("dejacache: not following %r's invalidations: %r", shared, exc)
            return
        self._unfollow = weakref.finalize(self, handle.close)

    def _find_shared_flights(self) -> SharedFlights | None:
        """Single-flight across processes on the first level whose store keeps flight locks
        (Redis, SQLite), when every level down to it keys requests alike."""
        level: Cache | None = self
        while level is not None and level._key_func is self._key_func:
            if lock_capable(level._store):
                return SharedFlights(level._store)
            level = level._next
        return None

    @classmethod
    def from_config(cls, config: Any) -> Cache:
        """A Cache from a YAML file path or a dict (see ``dejacache.load_config``)."""
        from ._config import load_config

        return cls(**load_config(config))

    # -- keys and controls ------------------------------------------------------------------

    def key(self, request: Any) -> str:
        """The request's cache key: 32 hex digits (or what ``key_func`` returns)."""
        if self._key_func is None:
            return self._schema.key(request)
        key = self._key_func(request)
        if not isinstance(key, str) or not key:
            raise TypeError(f"key_func must return a non-empty str, not {key!r}")
        return key

    def resolve_controls(self, request: Any, caching: Any = None, cache: Any = None, namespace: Any = None) -> Controls:
        """What one call may do (read, write, ttl, max age, namespace): the cache's defaults,
        then the controls inside the request, then those passed to the call."""
        if caching is None and cache is None and namespace is None:
            # Plain dicts (nearly every request) take the fast test; any other Mapping (a dict
            # subclass, MappingProxyType, an app's own type) may carry controls too, a tenant's
            # namespace among them, so it always goes through parse_controls.
            if type(request) is dict:
                if "cache" not in request and "caching" not in request:
                    return self._defaults
            elif not isinstance(request, Mapping):
                return self._defaults
        return parse_controls(request, caching, cache, namespace, self._defaults)

    def _lookup(self, request: Any, ctl: Controls, now: float) -> tuple[str, bytes | None, float]:
        if self._key_func is None:
            return self._store.lookup(self._schema, request, ctl.namespace, now, ctl.max_age)
        key = self.key(request)
        found = self._store.get(key, ctl.namespace, now, ctl.max_age)
        return (key, None, 0.0) if found is None else (key, found[0], found[1])

    def _unreadable(self, key: str, blob: bytes, namespace: str) -> tuple[Any, Any] | None:
        """(response, meta) of an entry the fast path could not read, or None after dropping it."""
        try:
            return decode(blob)
        except ValueError as exc:
            log.warning("dejacache: dropping unreadable entry %s in %r: %s", key, namespace, exc)
            self._store.remove(key, namespace)
            return None

    def _read(self, key: str, blob: bytes, namespace: str) -> tuple[Any, Any] | None:
        """(response, meta) of a stored entry, counting its savings; None when unreadable."""
        try:
            doc = _loads(blob)
            if doc["v"] == ENVELOPE_VERSION:
                response, meta = doc["r"], doc["m"]
            else:
                raise ValueError
        except (ValueError, TypeError, KeyError):
            found = self._unreadable(key, blob, namespace)
            if found is None:
                return None
            response, meta = found
        if meta:
            pending = self._savings_pending
            pending.append((namespace, meta, False))  # Savings.record, inline (the hit path)
            if len(pending) > FOLD_AT:
                self._savings.fold()
        return response, meta

    # -- reads and writes -------------------------------------------------------------------

    def get(
        self,
        request: Any,
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
    ) -> Hit | None:
        """The cached answer to ``request``, or None.

        >>> hit = cache.get(req)                         # doctest: +SKIP
        >>> hit.response, hit.source                      # doctest: +SKIP
        ({'answer': 42}, 'exact')
        """
        # The hit path, inlined: every Python frame here costs a measurable share of a hit
        # (benches/bench_hit_path.py).
        if caching is None and cache is None and namespace is None and self._default_get is not None:
            found = self._default_get(request)  # None: the request carries controls of its own
            if type(found) is Hit:
                return found
            if found is not None:
                return self._after_store_hit(request, found, self._defaults)
        ctl = self.resolve_controls(request, caching, cache, namespace)
        if not ctl.read:
            return None
        now = self._clock()
        if self._store_hit is not None:  # the in-process store: key, read, decode and Hit in Rust
            found = self._store_hit(self._schema, request, ctl.namespace, now, ctl.max_age)
            if type(found) is Hit:
                return found
            return self._after_store_hit(request, found, ctl)
        if self._key_func is None:
            key, blob, created = self._store.lookup(self._schema, request, ctl.namespace, now, ctl.max_age)
        else:
            key, blob, created = self._lookup(request, ctl, now)
        if blob is None:
            return None if self._tiers is None else self._tiers.find(request, key, ctl, now)[0]
        read = self._read(key, blob, ctl.namespace)
        if read is None:
            return None
        return Hit(read[0], key, "exact", now - created, ctl.namespace, None, read[1])

    def _after_store_hit(self, request: Any, found: Any, ctl: Controls) -> Hit | None:
        """``get``'s answer when ``EntryStore.hit`` found no plain hit: a miss (the key; the
        tiers after the exact store are asked) or ``(key, stored bytes, created)`` to read the
        careful way."""
        if type(found) is str:
            return None if self._tiers is None else self._tiers.find(request, found, ctl, self._clock())[0]
        key, blob, created = found
        read = self._read(key, blob, ctl.namespace)
        if read is None:
            return None
        return Hit(read[0], key, "exact", self._clock() - created, ctl.namespace, None, read[1])

    def close(self) -> None:
        """Releases the store's connections and files (a store opened from a URL; the
        in-process store has none) and stops following a lower level's invalidations. Lower
        levels are closed by their own ``close()``. The cache is unusable afterwards."""
        if self._unfollow is not None:
            self._unfollow()
        close = getattr(self._store, "close", None)
        if close is not None:
            close()

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, request: Any) -> bool:
        return self.contains(request)

    def contains(self, request: Any, *, namespace: str | None = None) -> bool:
        """Whether the exact tier holds a live entry for ``request`` (in ``namespace``, default
        the cache's); counts no read."""
        ns = self._defaults.namespace if namespace is None else check_namespace(namespace)
        return self._store.contains(self.key(request), ns, self._clock())

    # -- calls ------------------------------------------------------------------------------

    @property
    def semantic(self) -> Any:
        """The semantic tier (its ``embedder``, ``threshold``, ``evaluator``), or None."""
        return self._semantic

    @property
    def in_process(self) -> bool:
        """True when reads and writes are answered in this process's memory alone (no store on
        a server or file, no semantic tier, no lower level): callers on an event loop may then
        call ``get`` / ``put`` inline; otherwise they belong on a thread (or use ``acall``)."""
        return self._local_store and self._tiers is None

    @property
    def stream_flights(self) -> StreamFlights:
        """Single-flight for streamed misses (used by the SDK wrappers)."""
        return self._stream_flights

    @property
    def shared_flights(self) -> SharedFlights | None:
        """Single-flight across processes (``lease_s``, ``wait_s``), when a level's store is
        shared (Redis, SQLite); None otherwise."""
        return self._shared_flights

    def wrap(self, client: Any, **options: Any) -> Any:
        """``client`` (an OpenAI or Anthropic SDK client) with its calls cached here; see
        ``dejacache.wrap``.

        >>> client = cache.wrap(openai.OpenAI())                  # doctest: +SKIP
        """
        from ._sdk.wrap import wrap

        return wrap(client, self, **options)

    # -- statistics -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters, in total and per namespace: hits, misses, stores, evictions, expirations,
        entries, bytes, hit_rate, coalesced (answers shared by single-flight), and the provider
        latency, money and tokens saved by hits. ``namespaces`` lists every namespace written to,
        and up to 1024 names only read from (their misses); misses under other names, and under
        names only read from before a ``clear()``, count in the totals only."""
        return assemble_stats(self._store, self._savings, self._tiers)

    def __repr__(self) -> str:
        return (
            f"Cache(entries={len(self)}, max_entries={self.max_entries}, max_bytes={self.max_bytes}, "
            f"ttl={self.ttl}, eviction={self.eviction!r}, namespace={self.namespace!r})"
        )
