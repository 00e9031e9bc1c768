"""How ``Cache`` writes and forgets: ``put``, ``put_many``, ``delete``, ``delete_key``,
``clear`` and ``purge_expired``. A mixin of ``Cache`` (like ``_cache_calls``), kept apart so each
file reads in one sitting; it uses the cache's own state, declared below for type checkers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._cache_state import CacheState
from ._checks import check_meta
from ._codec import encode
from ._controls import Controls, check_namespace

if TYPE_CHECKING:
    pass

log = logging.getLogger("dejacache")


class Writes(CacheState):
    """``put`` / ``put_many`` / deletes, over the state ``Cache.__init__`` sets."""

    def put(
        self,
        request: Any,
        response: Any,
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        meta: dict | None = None,
    ) -> str:
        """Stores ``response`` (JSON-like) as the answer to ``request``; returns the key.

        ``meta`` may carry what the call cost (``latency_s``, ``cost_usd``, ``tokens``: finite
        numbers >= 0), which ``stats()`` adds up as savings on each hit; other JSON fields are
        kept with the entry (``Hit.meta``) and not counted. A response or meta holding NaN or
        infinity is refused (ValueError naming the path): JSON has no such numbers.
        """
        ctl = self.resolve_controls(request, caching, cache, namespace)
        key = self.key(request)
        meta = check_meta(meta)
        if ctl.write:
            blob = encode(response, meta)
            stored = self._write(key, blob, ctl, meta)
            if self._tiers is not None:
                self._tiers.keep(request, key, ctl, response, meta, stored, None)
        return key

    def put_many(
        self,
        items: Iterable[Sequence[Any]],
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
    ) -> list[str]:
        """Stores many answers at once; returns their keys, in order.

        ``items`` yields ``(request, response)`` or ``(request, response, meta)``. Every item is
        checked first (a request that cannot be keyed or a response that cannot be stored is a
        TypeError naming the item) and nothing is stored unless all pass. On a semantic cache
        the texts are embedded in batches and each scope's vectors go into the index in one
        call, which is what makes this faster than ``put`` in a loop (warming a cache from
        logs, say). When a request appears twice, the later answer wins.
        """
        if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
            raise TypeError(
                f"put_many takes an iterable of (request, response) or (request, response, meta) "
                f"tuples, not {type(items).__name__}"
            )
        prepared = []
        for i, item in enumerate(items):
            if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
                raise TypeError(
                    f"put_many: item {i} must be (request, response) or (request, response, meta), "
                    f"not {type(item).__name__}"
                )
            request, response = item[0], item[1]
            meta = item[2] if len(item) == 3 else None
            try:
                meta = check_meta(meta)
                ctl = self.resolve_controls(request, caching, cache, namespace)
                key = self.key(request)
                blob = encode(response, meta) if ctl.write else None
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"put_many: item {i}: {exc}; nothing was stored") from exc
            prepared.append((request, response, meta, ctl, key, blob))
        kept = []
        for request, response, meta, ctl, key, blob in prepared:
            if blob is not None:
                kept.append((request, key, ctl, response, meta, self._write(key, blob, ctl, meta)))
        if self._tiers is not None and kept:
            self._tiers.keep_many(kept)
        return [p[4] for p in prepared]

    def _write(self, key: str, blob: bytes, ctl: Controls, meta: dict | None = None) -> bool:
        """Stores ``blob``; ``meta``, when given, is the (checked) meta encoded in it, which the
        in-process store keeps beside it so a hit counts its savings without decoding it."""
        if meta and self._local_store:
            stored, _ = self._store.put(key, ctl.namespace, blob, self._clock(), ctl.ttl, meta)
        else:
            stored, _ = self._store.put(key, ctl.namespace, blob, self._clock(), ctl.ttl)
        if not stored:
            log.debug("dejacache: entry %s not stored (larger than max_bytes, or ttl 0)", key)
        return stored

    def delete(self, request: Any, *, namespace: str | None = None) -> bool:
        """Removes the entry for ``request`` (and its vector) at every level; True if there was one."""
        ns = self._defaults.namespace if namespace is None else check_namespace(namespace)
        key = self.key(request)
        removed = self._store.remove(key, ns)
        if self._tiers is not None:
            removed = self._tiers.forget(request, key, ns) or removed
        return removed

    def delete_key(self, key: str, *, namespace: str | None = None) -> bool:
        """Removes the entry stored under ``key`` (what ``Hit.key`` and the proxy's
        ``x-dejacache-key`` name) at every level; True if there was one. Its vector, if any, is
        dropped lazily (answers are read through the exact store, so it is never served)."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"key must be a non-empty string, not {key!r}")
        ns = self._defaults.namespace if namespace is None else check_namespace(namespace)
        removed = self._store.remove(key, ns)
        if self._next is not None:
            removed = self._next.delete_key(key, namespace=ns) or removed
        return removed

    def clear(self, namespace: str | None = None) -> int:
        """Removes every entry of ``namespace`` (all namespaces when None) at every level, with
        their vectors; returns how many entries."""
        if namespace is not None:
            check_namespace(namespace)
        removed = self._store.clear(namespace)
        if self._tiers is not None:
            removed += self._tiers.clear(namespace)
        return removed

    def purge_expired(self) -> int:
        """Drops entries whose ttl has run out (reads drop them lazily anyway)."""
        return self._store.purge_expired(self._clock())
