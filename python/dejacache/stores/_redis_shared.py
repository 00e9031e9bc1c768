"""Cross-process primitives of ``RedisStore``: invalidation messages and the single-flight lock.

Invalidation
  ``remove`` and ``clear`` publish ``{"o": origin, "n": namespace or null, "k": key or null}`` on
  the channel ``dejacache:invalidate``. ``subscribe_invalidations(callback)`` listens on a daemon
  thread and calls ``callback(namespace_or_None, key_or_None)`` for each message (namespace None:
  every namespace was cleared; key None: the whole namespace was). The listener reconnects with
  backoff when the server goes away; messages published while it was away are lost (pub/sub is
  at-most-once), so a caller that keeps an L1 should give it a short ttl or clear it on reconnect:
  ``on_reconnect`` is called after every reconnection for that purpose.

Single-flight
  ``try_lead`` takes a lock key (``SET NX PX``, a random token); ``end_lead`` deletes it only while
  the token still matches (a Lua script), so a leader whose lock expired cannot free another
  leader's lock, and ``extend_lead`` keeps it alive while its leader works; ``wait_for`` (and
  ``await_for``, on the async client) polls the entry and the lock (one pipelined round trip, both
  in the same Cluster slot) with backoff from 1 ms to 50 ms. A leader that dies leaves its lock to
  expire. ``dejacache._shared_flight`` puts these together for ``Cache``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dejacache.stores")

CHANNEL = "dejacache:invalidate"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)


class InvalidationHandle:
    """A running invalidation listener; ``close()`` stops it (and waits for its thread)."""

    def __init__(
        self,
        store: Any,
        callback: Callable[[str | None, str | None], None],
        ignore_own: bool,
        on_reconnect: Callable[[], None] | None,
    ) -> None:
        self._store = store
        self._callback = callback
        self._ignore_own = ignore_own
        self._on_reconnect = on_reconnect
        self._stop = threading.Event()
        self.ready = threading.Event()
        self.delivered = 0
        self._thread = threading.Thread(target=self._run, name="dejacache-invalidations", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay, first = 0.05, True
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self._store._r.pubsub()
                pubsub.subscribe(CHANNEL)
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.1)
                    if msg is not None and msg.get("type") == "subscribe":  # the server confirmed
                        self.ready.set()
                        if not first and self._on_reconnect is not None:
                            self._on_reconnect()
                        first, delay = False, 0.05
                    if msg is not None and msg.get("type") == "message":
                        self._deliver(msg["data"])
            except Exception as exc:  # the server went away: retry with backoff
                if self.ready.is_set():
                    log.warning(
                        "%r: invalidation listener lost its connection (%s); reconnecting",
                        self._store,
                        type(exc).__name__,
                    )
                self.ready.clear()
                self._stop.wait(delay)
                delay = min(delay * 2, 2.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass

    def _deliver(self, data: bytes) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            return
        if self._ignore_own and msg.get("o") == self._store._origin:
            return
        try:
            self._callback(msg.get("n"), msg.get("k"))
            self.delivered += 1
        except Exception:
            log.exception("invalidation callback failed")

    def close(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        self._store._handles.discard(self)


class SharedMixin:
    _r: Any

    def _init_shared(self) -> None:
        self._origin = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._handles: set[InvalidationHandle] = set()
        self._release: Any = None
        self._extend: Any = None

    def _close_shared(self) -> None:
        for handle in list(self._handles):
            handle.close()

    def _publish(self, namespace: str | None, key: str | None) -> None:
        if self.publish_invalidations:  # type: ignore[attr-defined]
            self._r.publish(CHANNEL, json.dumps({"o": self._origin, "n": namespace, "k": key}))

    def subscribe_invalidations(
        self,
        callback: Callable[[str | None, str | None], None],
        *,
        ignore_own: bool = False,
        on_reconnect: Callable[[], None] | None = None,
        wait_s: float = 2.0,
    ) -> InvalidationHandle:
        """Starts a listener thread calling ``callback(namespace, key)`` per remove / clear (see the
        module docstring); waits up to ``wait_s`` for the subscription so no later message is
        missed. ``ignore_own`` skips this store's own messages."""
        handle = InvalidationHandle(self, callback, ignore_own, on_reconnect)
        self._handles.add(handle)
        handle.ready.wait(wait_s)
        return handle

    def _lock_key(self, namespace: str, key: str) -> str:
        return f"dejacache:lock:{self._key(key, namespace)}"  # type: ignore[attr-defined]

    def try_lead(self, namespace: str, key: str, ttl_s: float) -> str | None:
        """A token when this caller now leads the computation of ``(namespace, key)``, None when
        another caller holds the lock. The lock expires after ``ttl_s`` whatever happens."""
        token = uuid.uuid4().hex
        ok = self._r.set(self._lock_key(namespace, key), token, nx=True, px=max(1, int(ttl_s * 1000)))
        return token if ok else None

    def end_lead(self, namespace: str, key: str, token: str) -> bool:
        """Releases the lock if ``token`` still holds it; True when it did."""
        if self._release is None:
            self._release = self._r.register_script(_RELEASE)
        return bool(self._release(keys=[self._lock_key(namespace, key)], args=[token]))

    def extend_lead(self, namespace: str, key: str, token: str, ttl_s: float) -> bool:
        """Gives the lock ``ttl_s`` more seconds if ``token`` still holds it; True when it did."""
        if self._extend is None:
            self._extend = self._r.register_script(_EXTEND)
        return bool(self._extend(keys=[self._lock_key(namespace, key)], args=[token, max(1, int(ttl_s * 1000))]))

    async def await_for(self, namespace: str, key: str, now: float, timeout_s: float) -> tuple[bytes, float] | None:
        """``wait_for`` with the event loop's async client: the loop stays free meanwhile."""
        client = self._aclient()  # type: ignore[attr-defined]
        rkey = self._key(key, namespace)  # type: ignore[attr-defined]
        lkey = f"dejacache:lock:{rkey}"
        start = time.monotonic()
        delay = 0.001
        while True:
            pipe = client.pipeline(transaction=False)
            pipe.get(rkey)
            pipe.exists(lkey)
            raw, locked = await pipe.execute()
            elapsed = time.monotonic() - start
            found = self._live(raw, now + elapsed)
            if found is not None:
                return found
            if not locked:
                return self._live(await client.get(rkey), now + elapsed)
            if elapsed >= timeout_s:
                return None
            await asyncio.sleep(min(delay, max(0.0, timeout_s - elapsed)))
            delay = min(delay * 2, 0.05)

    def wait_for(self, namespace: str, key: str, now: float, timeout_s: float) -> tuple[bytes, float] | None:
        """Waits for the leader's entry: ``(value, created)``, or None when the lock is gone
        without an entry (the leader failed or stored nothing) or ``timeout_s`` passed. ``now``
        is the caller's clock at the start (the entry's expiry is checked against it plus the
        time waited). Counts nothing."""
        rkey = self._key(key, namespace)  # type: ignore[attr-defined]
        lkey = f"dejacache:lock:{rkey}"
        start = time.monotonic()
        delay = 0.001
        while True:
            pipe = self._r.pipeline(transaction=False)
            pipe.get(rkey)
            pipe.exists(lkey)
            raw, locked = pipe.execute()
            elapsed = time.monotonic() - start
            found = self._live(raw, now + elapsed)
            if found is not None:
                return found
            if not locked:  # the leader may have stored and released between our two reads
                return self._live(self._r.get(rkey), now + elapsed)
            if elapsed >= timeout_s:
                return None
            time.sleep(min(delay, max(0.0, timeout_s - elapsed)))
            delay = min(delay * 2, 0.05)

    @staticmethod
    def _live(raw: bytes | None, now: float) -> tuple[bytes, float] | None:
        from ._redis import _HEADER, _HLEN

        if raw is None:
            return None
        created, expires = _HEADER.unpack_from(raw)
        return None if expires <= now else (raw[_HLEN:], created)
