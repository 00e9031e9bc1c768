"""How ``Cache`` answers a call: ``call`` and ``acall`` (the exact hit inline, then the tiers,
then one provider call per flight of identical misses, in this process and across processes
sharing a store). A mixin of ``Cache``, kept apart so each file reads in one sitting; it uses the
cache's own state, declared below for type checkers."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._cache_state import CacheState
from ._checks import check_meta
from ._codec import decode, encode
from ._controls import Controls
from ._core import Hit

if TYPE_CHECKING:
    from ._protocols import StoreAs

log = logging.getLogger("dejacache")
# The provider may still accept such a request; the cache must not be why it fails.
_UNCACHEABLE = "dejacache: request not cacheable, calling the provider directly: %s"


class Calls(CacheState):
    """``call`` / ``acall`` and their steps, over the state ``Cache.__init__`` sets."""

    def _adopt(self, key: str, blob: bytes, ctl: Controls) -> tuple[Any, bytes] | None:
        """The answer a leader in another process stored, as this call's outcome (copied into
        this level's store when the lock lives in a lower level's); None when unreadable."""
        try:
            response = self._shared_copy((None, blob), ctl.namespace)
        except ValueError:
            return None
        if self._shared_flights is not None and self._shared_flights.store is not self._store:
            self._write(key, blob, ctl)
        return response, blob

    def _shared_copy(self, outcome: tuple[Any, bytes | None], namespace: str) -> Any:
        """What a single-flight waiter gets: its own decoded copy of the leader's answer."""
        response, blob = outcome
        if blob is not None:
            response, meta = decode(blob)
            self._savings.record(namespace, meta, coalesced=True)
        if isinstance(response, dict):
            response["cache"] = True
        return response

    def _begin(self, request: Any, ctl: Controls) -> tuple[str | None, Any, Any]:
        """(key, marked response on a hit, the tiers' memos); key None means: bypass the cache."""
        now = self._clock()
        try:
            if not ctl.read:
                key, blob = self.key(request), None
            elif self._store_hit is not None:  # the in-process store (see Cache.get)
                found = self._store_hit(self._schema, request, ctl.namespace, now, ctl.max_age)
                if type(found) is Hit:
                    response = found.response
                    if isinstance(response, dict):
                        response["cache"] = True
                    return found.key, response, None
                return self._not_a_store_hit(found, ctl)
            elif self._key_func is None:  # _lookup, inline (the hit path)
                key, blob, created = self._store.lookup(self._schema, request, ctl.namespace, now, ctl.max_age)
            else:
                key, blob, created = self._lookup(request, ctl, now)
        except (TypeError, ValueError) as exc:
            # The provider may still accept this request; the cache must not be why it fails.
            log.warning(_UNCACHEABLE, exc)
            return None, None, None
        return self._not_a_store_hit((key, blob, created) if blob is not None else key, ctl)

    def _not_a_store_hit(self, found: Any, ctl: Controls) -> tuple[str | None, Any, Any]:
        """``_begin``'s answer for what ``EntryStore.hit`` returns when it is not a ``Hit``: the
        key of a miss, or ``(key, stored bytes, created)`` to read the careful way."""
        if type(found) is str:
            return found, None, None
        key, blob, _ = found
        read = self._read(key, blob, ctl.namespace)
        if read is None:
            return key, None, None
        response = read[0]
        if isinstance(response, dict):
            response["cache"] = True
        return key, response, None

    def _stored_meanwhile(self, key: str, ctl: Controls) -> tuple[Any, bytes] | None:
        """The answer an identical call stored after this one missed every tier, for a caller
        about to lead a flight: the previous leader may have stored and ended its flight in
        between, and a second provider call must not follow (issue 15)."""
        now = self._clock()
        if not self._store.contains(key, ctl.namespace, now):  # contains() counts no read
            return None
        found = self._store.get(key, ctl.namespace, now, ctl.max_age)
        if found is None:
            return None
        read = self._read(key, found[0], ctl.namespace)
        if read is None:
            return None
        response = read[0]
        if isinstance(response, dict):
            response["cache"] = True
        return response, found[0]

    def _finish(
        self,
        key: str,
        ctl: Controls,
        response: Any,
        latency: float,
        request: Any = None,
        memos: Any = None,
        store_as: StoreAs | None = None,
    ) -> tuple[Any, bytes | None]:
        meta: dict[str, Any] | None
        try:
            if store_as is None:
                form, meta = response, {"latency_s": latency}
            else:
                form, meta = store_as(response, latency)
                meta = check_meta(meta)
            blob = encode(form, meta)
        except (TypeError, ValueError) as exc:
            log.warning("dejacache: answer not stored: %s", exc)
            return response, None
        if ctl.write:
            stored = self._write(key, blob, ctl, meta)
            if self._tiers is not None:
                self._tiers.keep(request, key, ctl, form, meta, stored, memos)
        return response, blob

    def call(
        self,
        request: Any,
        llm: Callable[[Any], Any],
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        store_as: StoreAs | None = None,
    ) -> Any:
        """Answers ``request`` from the cache, or calls ``llm(request)`` and stores its answer.

        Concurrent identical misses make one ``llm`` call (single-flight); an exception from
        ``llm`` reaches every waiting caller and is never stored. Dict answers served without
        a call of their own carry ``"cache": True``.

        ``store_as(response, latency_s) -> (json_form, meta)`` lets a caller whose ``llm``
        returns non-JSON objects (SDK models) choose what is stored and what the call cost;
        the leader still gets ``llm``'s own object, waiters and hits get the stored form.
        """
        found = None
        if caching is None and cache is None and namespace is None and self._default_call is not None:
            try:  # the hit path, inline (benches/bench_hit_path.py)
                found = self._default_call(request)  # None: the request carries controls
            except (TypeError, ValueError) as exc:
                log.warning(_UNCACHEABLE, exc)
                return llm(request)
            if type(found) is list:  # [response], marked "cache": True by the store
                return found[0]
        if found is None:
            ctl = self.resolve_controls(request, caching, cache, namespace)
            if not (ctl.read or ctl.write):
                return llm(request)
            key, hit, memos = self._begin(request, ctl)
        else:
            ctl = self._defaults
            key, hit, memos = self._not_a_store_hit(found, ctl)
        if hit is not None:
            return hit
        if key is None:
            return llm(request)
        if self._tiers is not None:
            found, memos = self._tiers.find(request, key, ctl, self._clock())
            if found is not None:
                response = found.response
                if isinstance(response, dict):
                    response["cache"] = True
                return response

        def provide() -> tuple[Any, bytes | None]:
            start = time.perf_counter()
            response = llm(request)
            return self._finish(key, ctl, response, time.perf_counter() - start, request, memos, store_as)

        def produce() -> tuple[Any, bytes | None]:
            if ctl.read:
                stored = self._stored_meanwhile(key, ctl)
                if stored is not None:
                    return stored
            shared = self._shared_flights
            if shared is None or not (ctl.read and ctl.write):
                return provide()
            adopt = lambda blob: self._adopt(key, blob, ctl)  # noqa: E731
            return shared.run(ctl.namespace, key, self._clock(), ctl.max_age, provide, adopt)

        outcome, led = self._flights.run((ctl.namespace, key), produce, join=ctl.read)
        return outcome[0] if led else self._shared_copy(outcome, ctl.namespace)

    async def acall(
        self,
        request: Any,
        llm: Callable[[Any], Any | Awaitable[Any]],
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        store_as: StoreAs | None = None,
    ) -> Any:
        """``call`` for asyncio: ``llm`` may be a coroutine function or a plain callable."""
        ctl = self.resolve_controls(request, caching, cache, namespace)

        async def invoke() -> Any:
            result = llm(request)
            return await result if inspect.isawaitable(result) else result

        if not (ctl.read or ctl.write):
            return await invoke()
        if self._local_store:
            key, hit, memos = self._begin(request, ctl)
        elif self._async_store and ctl.read:
            key, hit, memos = await self._abegin(request, ctl)
        else:
            key, hit, memos = await asyncio.to_thread(self._begin, request, ctl)
        if hit is not None:
            return hit
        if key is None:
            return await invoke()
        tiers = self._tiers
        if tiers is not None:
            # Embedding takes milliseconds: keep the event loop free meanwhile.
            found, memos = await asyncio.to_thread(tiers.find, request, key, ctl, self._clock())
            if found is not None:
                response = found.response
                if isinstance(response, dict):
                    response["cache"] = True
                return response

        async def provide() -> tuple[Any, bytes | None]:
            start = time.perf_counter()
            response = await invoke()
            latency = time.perf_counter() - start
            if tiers is not None or not self._local_store:
                return await self._afinish(key, ctl, response, latency, request, memos, store_as)
            return self._finish(key, ctl, response, latency, store_as=store_as)

        async def produce() -> tuple[Any, bytes | None]:
            if ctl.read:
                if self._local_store:
                    stored = self._stored_meanwhile(key, ctl)
                else:
                    stored = await asyncio.to_thread(self._stored_meanwhile, key, ctl)
                if stored is not None:
                    return stored
            shared = self._shared_flights
            if shared is None or not (ctl.read and ctl.write):
                return await provide()
            adopt = lambda blob: self._adopt(key, blob, ctl)  # noqa: E731
            return await shared.arun(ctl.namespace, key, self._clock(), ctl.max_age, provide, adopt)

        outcome, led = await self._async_flights.run((ctl.namespace, key), produce, join=ctl.read)
        return outcome[0] if led else self._shared_copy(outcome, ctl.namespace)

    async def _abegin(self, request: Any, ctl: Controls) -> tuple[str | None, Any, Any]:
        """``_begin`` with the store's async read (``ctl.read`` is true)."""
        store: Any = self._store  # has alookup / aget (self._async_store)
        now = self._clock()
        try:
            if self._key_func is None:
                key, blob, _ = await store.alookup(self._schema, request, ctl.namespace, now, ctl.max_age)
            else:
                key = self.key(request)
                found = await store.aget(key, ctl.namespace, now, ctl.max_age)
                blob = None if found is None else found[0]
        except (TypeError, ValueError) as exc:
            log.warning(_UNCACHEABLE, exc)
            return None, None, None
        if blob is not None:
            found = self._read(key, blob, ctl.namespace)
            if found is not None:
                response = found[0]
                if isinstance(response, dict):
                    response["cache"] = True
                return key, response, None
        return key, None, None

    async def _afinish(
        self,
        key: str,
        ctl: Controls,
        response: Any,
        latency: float,
        request: Any,
        memos: Any,
        store_as: StoreAs | None,
    ) -> tuple[Any, bytes | None]:
        """``_finish`` off the event loop: the store's async write when it has one (and no tier
        follows), else in a thread."""
        if self._tiers is not None or not self._async_store or not ctl.write:
            return await asyncio.to_thread(self._finish, key, ctl, response, latency, request, memos, store_as)
        unwritten = Controls(ctl.read, False, ctl.ttl, ctl.max_age, ctl.namespace)
        outcome = self._finish(key, unwritten, response, latency, store_as=store_as)  # encodes only
        if outcome[1] is not None:
            store: Any = self._store  # has aput (self._async_store)
            stored, _ = await store.aput(key, ctl.namespace, outcome[1], self._clock(), ctl.ttl)
            if not stored:
                log.debug("dejacache: entry %s not stored (larger than max_bytes, or ttl 0)", key)
        return outcome
