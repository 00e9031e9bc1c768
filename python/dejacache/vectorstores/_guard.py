"""``GuardedVectorStore``: a vector store on a server behind a fault guard (fail-open).

The semantic tier puts every store marked ``remote = True`` behind this guard, so a vector
database that is down or slow costs semantic hits, never a failed call, and never a timeout
per request: a backend fault (any ``Exception`` but the caller's own ``ValueError`` /
``TypeError``) is counted in ``errors`` and answered as

- ``search`` / ``search_payloads``: no neighbours (a miss);
- ``add``: not stored (the exact entry stands; only its vector is lost);
- ``remove``: 0 (a vector left behind is dropped later: its entry is read through the exact
  store, found gone, and the tier removes it).

After ``failures_to_open`` consecutive faults the breaker opens: calls skip the server
(``skipped``) for ``probe_after_s``, then one call probes it; success closes the breaker. State
changes are logged once each, naming the store by its ``repr`` (never a password).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ._base import EMPTY_ID
from ._delegate import DelegatingStore

log = logging.getLogger("dejacache.vectorstores")


class GuardedVectorStore(DelegatingStore):
    """Wraps ``store`` (see the module docstring); other attributes pass through."""

    def __init__(
        self,
        store: Any,
        *,
        failures_to_open: int = 3,
        probe_after_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures_to_open < 1 or probe_after_s < 0:
            raise ValueError("failures_to_open must be >= 1 and probe_after_s >= 0 (seconds)")
        super().__init__(store)
        self.failures_to_open, self.probe_after_s = failures_to_open, probe_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.errors = 0
        self.skipped = 0

    def __repr__(self) -> str:
        state = "closed" if self._opened_at is None else "open"
        return f"GuardedVectorStore({self.store!r}, breaker={state})"

    def _admit(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if not self._probing and self._clock() - self._opened_at >= self.probe_after_s:
                self._probing = True
                return True
            self.skipped += 1
            return False

    def _ok(self) -> None:
        if self._failures or self._opened_at is not None:
            with self._lock:
                if self._opened_at is not None:
                    log.warning("dejacache: vector store %r answers again; semantic lookups resume", self.store)
                self._failures, self._opened_at, self._probing = 0, None, False

    def _fault(self, op: str, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            self._failures += 1
            self._probing = False
            if self._opened_at is not None:
                self._opened_at = self._clock()
            elif self._failures >= self.failures_to_open:
                self._opened_at = self._clock()
                log.warning(
                    "dejacache: vector store %r failed %d times (last: %s %r); semantic lookups are misses "
                    "and vectors are not stored until it answers (retried every %.1f s)",
                    self.store,
                    self._failures,
                    op,
                    exc,
                    self.probe_after_s,
                )

    def _call(self, op: str, fallback: Callable[[], Any], *args: Any, **kwargs: Any) -> Any:
        if not self._admit():
            return fallback()
        try:
            out = getattr(self.store, op)(*args, **kwargs)
        except (ValueError, TypeError):
            raise  # the caller's bad input, or a store opened with the wrong dimension: say so
        except Exception as exc:  # noqa: BLE001 - any backend fault is a miss / a lost vector
            self._fault(op, exc)
            return fallback()
        self._ok()
        return out

    def search(self, queries: Any, k: int = 10, namespace: str = "default") -> tuple[np.ndarray, np.ndarray]:
        def empty() -> tuple[np.ndarray, np.ndarray]:
            shape = (int(k),) if np.ndim(queries) == 1 else (len(queries), int(k))
            return np.full(shape, EMPTY_ID, np.uint64), np.full(shape, np.nan, np.float32)

        return self._call("search", empty, queries, k, namespace=namespace)

    def search_payloads(self, query: Any, k: int = 10, namespace: str = "default") -> Any:
        def empty() -> Any:
            return np.full(int(k), EMPTY_ID, np.uint64), np.full(int(k), np.nan, np.float32), [None] * int(k)

        return self._call("search_payloads", empty, query, k, namespace=namespace)

    def add(self, ids: Any, vectors: Any, namespace: str = "default", **kwargs: Any) -> None:
        self._call("add", lambda: None, ids, vectors, namespace=namespace, **kwargs)

    def add_many(self, ids: Any, vectors: Any, namespace: str = "default") -> None:
        op = "add_many" if callable(getattr(self.store, "add_many", None)) else "add"
        self._call(op, lambda: None, ids, vectors, namespace=namespace)

    def remove(self, ids: Any, namespace: str = "default") -> int:
        return int(self._call("remove", lambda: 0, ids, namespace=namespace))
