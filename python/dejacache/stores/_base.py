"""What the exact tier needs of an entry store, and the errors a store may raise.

Every store keeps the semantics of the in-process Rust store (``dejacache._core.EntryStore``),
which is the reference implementation of this protocol:

- entries are addressed by ``(namespace, key)``; ``key`` is 32 hex digits (the canonical
  128-bit request key) and namespaces never cross: a ``get``, ``remove`` or ``clear`` of one
  namespace never sees or touches another's entries;
- a value is the opaque ``bytes`` the cache encoded (an orjson envelope); a store never
  interprets it;
- ``now`` is the caller's clock reading in seconds (tests inject a clock); ``created`` is
  stored with the entry so ``max_age`` (``s-maxage``) can be checked on read;
- ``ttl`` (seconds, per entry; None means the store's default ttl, which may be None: no expiry)
  and a ttl of 0 stores nothing;
- counters per namespace: hits, misses, stores, evictions, expirations, entries, bytes.

A store raises ``StoreUnavailable`` (or lets its client library's connection / timeout error
through) when its backend cannot answer; it never returns a wrong answer instead. Failing open
(treating the fault as a miss and counting it) is the job of the guard around the store, not of
each store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from .._errors import StoreUnavailable

__all__ = ["COUNTER_NAMES", "BulkEntryStore", "ClosableStore", "EntryStore", "StoreUnavailable"]

#: The counters ``stats()`` reports for each namespace.
COUNTER_NAMES = ("hits", "misses", "stores", "evictions", "expirations", "entries", "bytes")


@runtime_checkable
class EntryStore(Protocol):
    """An exact-tier entry store. ``dejacache._core.EntryStore`` is the in-process one."""

    def lookup(
        self, schema: Any, request: Any, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[str, bytes | None, float]:
        """Keys ``request`` with ``schema`` (``schema.key(request)``) and reads it: ``(key,
        value or None, created)``. Keying errors (TypeError / ValueError) propagate."""
        ...

    def get(self, key: str, namespace: str, now: float, max_age: float | None = None) -> tuple[bytes, float] | None:
        """``(value, created)`` of a live entry younger than ``max_age`` (when given), or None.
        Counts a hit or a miss."""
        ...

    def put(self, key: str, namespace: str, value: bytes, now: float, ttl: float | None = None) -> tuple[bool, int]:
        """Stores ``value``; returns ``(stored, evicted)``: stored is False when the value alone
        is over ``max_bytes`` or ``ttl`` is 0; evicted counts entries pushed out by caps."""
        ...

    def remove(self, key: str, namespace: str) -> bool:
        """Removes one entry; True if there was one."""
        ...

    def contains(self, key: str, namespace: str, now: float) -> bool:
        """True for a live entry; counts nothing."""
        ...

    def clear(self, namespace: str | None = None) -> int:
        """Removes every entry of ``namespace`` (of all namespaces when None); returns how many."""
        ...

    def purge_expired(self, now: float) -> int:
        """Drops expired entries now (reads drop them lazily anyway); returns how many."""
        ...

    def keys(self, namespace: str) -> list[str]:
        """Keys of one namespace (order unspecified unless the store says otherwise)."""
        ...

    def __len__(self) -> int:
        """Live entries in every namespace (an estimate is allowed where counting is costly: say so)."""
        ...

    def stats(self) -> list[tuple[str, dict[str, int]]]:
        """``[(namespace, {counter: value})]`` with every name in ``COUNTER_NAMES``."""
        ...


@runtime_checkable
class BulkEntryStore(EntryStore, Protocol):
    """A store that writes many entries in one round trip (pipelined / batched)."""

    def put_many(self, items: Sequence[tuple[str, str, bytes, float | None]], now: float) -> int:
        """Stores ``(key, namespace, value, ttl)`` items; returns how many were stored. A later
        item with the same ``(namespace, key)`` wins."""
        ...


@runtime_checkable
class ClosableStore(Protocol):
    def close(self) -> None:
        """Releases connections and files; the store is unusable afterwards."""
        ...
