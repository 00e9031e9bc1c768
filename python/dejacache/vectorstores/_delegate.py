"""Other objects behind the ``VectorStore`` interface, so its users (the semantic tier) see one type.

- ``as_vector_store(obj, dim)``: a ``VectorStore`` as it is, a ``dejacache.VectorIndex`` as a
  ``BuiltinStore`` over it, and any other object with the ``vector_store=`` protocol's methods
  (``add``, ``remove``, ``search``: ``_protocols.VectorSearch``) as a ``DelegatingStore``.
- ``DelegatingStore``: calls go to the object as they are (its own argument rules stand) and
  its other attributes (``search_payloads``, ``remote``, ...) pass through. The fail-open guard
  (``_guard.GuardedVectorStore``) is one, with faults caught around the calls.

>>> import numpy as np
>>> class Listed:  # the protocol alone: no dim, no count
...     def __init__(self): self.rows = {}
...     def add(self, ids, vectors, namespace=None): self.rows.update(zip(ids.tolist(), vectors))
...     def remove(self, ids, namespace=None): return sum(self.rows.pop(i, None) is not None for i in ids.tolist())
...     def search(self, queries, k, namespace=None):
...         return np.array([list(self.rows)[:k]], np.uint64), np.ones((1, k), np.float32)
>>> store = as_vector_store(Listed(), dim=2)
>>> store.add_many(np.array([5], np.uint64), np.ones((1, 2), np.float32), namespace="a")
>>> int(store.search(np.ones((1, 2), np.float32), 1, namespace="a")[0][0, 0]), store.ordered_results
(5, False)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._core import VectorIndex
from ._base import VectorStore
from ._builtin import BuiltinStore


def as_vector_store(obj: Any, dim: int) -> VectorStore:
    """``obj`` behind the ``VectorStore`` interface (see the module docstring); ``dim`` is used
    when the object does not say its own."""
    if isinstance(obj, VectorStore):
        return obj
    if isinstance(obj, VectorIndex):
        return BuiltinStore.from_index(obj)
    return DelegatingStore(obj, dim)


class DelegatingStore(VectorStore):
    """A ``VectorStore`` whose calls go to ``store`` unchanged (see the module docstring)."""

    def __init__(self, store: Any, dim: int | None = None) -> None:
        own = getattr(store, "dim", None)
        size = own if isinstance(own, (int, np.integer)) and not isinstance(own, bool) else dim
        if size is None:
            raise ValueError(f"{type(store).__name__} does not say its dimension: pass dim=")
        super().__init__(int(size), getattr(store, "metric", "cosine"))
        self.store = store
        # The object's own promise, if it makes one: the protocol alone promises no order.
        self.ordered_results = getattr(store, "ordered_results", False) is True

    def __getattr__(self, name: str) -> Any:
        if name == "store":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.store, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store!r})"

    def __len__(self) -> int:
        return len(self.store)

    # The protocol's three calls, passed on as the semantic tier has always made them.
    def add(self, ids: Any, vectors: Any, namespace: str = "default", **kwargs: Any) -> None:
        """``store.add``; ``kwargs`` (``payloads=`` of a store that keeps them) go along."""
        self.store.add(ids, vectors, namespace=namespace, **kwargs)

    def add_many(self, ids: Any, vectors: Any, namespace: str = "default") -> None:
        add_many = getattr(self.store, "add_many", None)
        if callable(add_many):
            add_many(ids, vectors, namespace=namespace)
        else:
            self.store.add(ids, vectors, namespace=namespace)

    def remove(self, ids: Any, namespace: str = "default") -> int:
        return self.store.remove(ids, namespace=namespace)

    def search(self, queries: Any, k: int = 10, namespace: str = "default") -> tuple[np.ndarray, np.ndarray]:
        return self.store.search(queries, k, namespace=namespace)

    # The rest of the interface, where the object has it.
    def _method(self, name: str) -> Any:
        method = getattr(self.store, name, None)
        if not callable(method):
            raise TypeError(f"{type(self.store).__name__} has no {name}(): give it one, or use a dejacache VectorStore")
        return method

    def count(self, namespace: str = "default") -> int:
        return int(self._method("count")(namespace))

    def namespaces(self) -> list[str]:
        return list(self._method("namespaces")())

    def save(self, path: str | os.PathLike[str]) -> None:
        self._method("save")(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VectorStore:
        raise TypeError(f"a {cls.__name__} is not saved as such: load the store it wraps with its own class")

    def _contains(self, namespace: str, id: int) -> bool:
        return bool(self._method("contains")(id, namespace))

    def _add(self, namespace: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.store.add(ids, vectors, namespace=namespace)

    def _remove(self, namespace: str, ids: np.ndarray) -> int:
        return int(self.store.remove(ids, namespace=namespace))

    def _search(self, namespace: str, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray) -> None:
        ids[:], scores[:] = self.store.search(queries, k, namespace=namespace)
