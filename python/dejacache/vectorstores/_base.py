"""The vector-store interface: every backend (built-in, hnswlib, usearch, faiss) behind one API.

Ids are uint64; ``2**64 - 1`` is reserved for empty result slots. Each namespace is a separate
index: a search in one namespace sees only that namespace's vectors. Scores are similarities
(higher is better) for ``cosine`` and ``dot`` and squared distances (lower is better) for
``l2``; result slots with no vector hold id ``EMPTY_ID`` and score NaN.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EMPTY_ID", "METRICS", "VectorStore"]

EMPTY_ID = np.uint64(2**64 - 1)
#: longest text payload (characters) a store keeps beside a vector (vectorstores on a server or database)
MAX_PAYLOAD_BYTES = 1 << 20
METRICS = ("cosine", "dot", "l2")
_METRIC_ALIASES = {"cosine": "cosine", "dot": "dot", "ip": "dot", "l2": "l2"}
_META = "store.json"
_FORMAT = 1


def _check_metric(metric: str) -> str:
    try:
        return _METRIC_ALIASES[metric]
    except (KeyError, TypeError):
        raise ValueError(f'unknown metric {metric!r}: use "cosine", "dot" (or "ip") or "l2"') from None


def _check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"namespace must be a non-empty string, got {namespace!r}")
    return namespace


class VectorStore(abc.ABC):
    """Vectors of one dimension and metric under uint64 ids, in isolated namespaces.

    >>> import numpy as np
    >>> from dejacache.vectorstores import BuiltinStore
    >>> store = BuiltinStore(dim=3)
    >>> store.add(np.array([7], np.uint64), np.array([[1.0, 0.0, 0.0]], np.float32))
    >>> ids, scores = store.search(np.array([[1.0, 0.1, 0.0]], np.float32), k=1)
    >>> int(ids[0, 0])
    7

    Subclasses implement the underscored methods; this class converts and checks arguments
    once, so that every backend rejects bad input with the same ValueError.
    """

    #: ``search`` asks ``count()`` first and skips an empty namespace; a store on a server sets
    #: this False (the count would be a second round trip, and an empty result costs no more)
    _count_before_search = True

    def __init__(self, dim: int, metric: str = "cosine") -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self._dim = int(dim)
        self._metric = _check_metric(metric)

    @property
    def dim(self) -> int:
        """The number of components of every vector."""
        return self._dim

    @property
    def metric(self) -> str:
        """ "cosine", "dot" or "l2" (squared)."""
        return self._metric

    #: True when ``search`` is known to list each row best first, empty slots last (the built-in
    #: index). A caller that stops at the first result good enough (the semantic tier) sorts a
    #: row first when it is False: the default, for backends that do not promise the order.
    ordered_results: bool = False

    # -- argument checks shared by every backend ------------------------------------------

    def _ids(self, ids: Any) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {arr.shape}")
        if arr.size == 0:
            return np.empty(0, np.uint64)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"ids must be integers (a uint64 array), got dtype {arr.dtype}")
        if arr.dtype.kind == "i" and (arr < 0).any():
            raise ValueError("ids must be non-negative (uint64)")
        out = arr.astype(np.uint64, copy=False)
        if (out == EMPTY_ID).any():
            raise ValueError("id 2**64-1 is reserved for empty result slots: use another id")
        return out

    def _payload_rows(
        self, ids: Any, vectors: Any, payloads: Sequence[str | None] | None
    ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """``add``'s arguments checked for a store that keeps a text payload beside each vector:
        (ids, vectors, payloads), each id once (its last occurrence, as sequential adds would)."""
        ids = self._ids(ids)
        vectors = self._vectors(vectors, "vectors")
        if len(ids) != len(vectors):
            raise ValueError(f"got {len(ids)} ids for {len(vectors)} vectors: pass one id per vector")
        texts: list[str | None] = [None] * len(ids)
        if payloads is not None:
            texts = list(payloads)
            if len(texts) != len(ids):
                raise ValueError(f"got {len(texts)} payloads for {len(ids)} ids: pass one payload (or None) per id")
            for t in texts:
                if t is not None and (not isinstance(t, str) or len(t) > MAX_PAYLOAD_BYTES):
                    raise ValueError(f"a payload must be a str of at most {MAX_PAYLOAD_BYTES} characters, or None")
        if len(ids) > 1:
            _, last = np.unique(ids[::-1], return_index=True)
            if len(last) != len(ids):
                keep = np.sort(len(ids) - 1 - last)
                ids, vectors, texts = ids[keep], vectors[keep], [texts[i] for i in keep.tolist()]
        return ids, vectors, texts

    def _payload_query(self, query: Any, k: Any) -> tuple[np.ndarray, int]:
        """``search_payloads``' arguments checked: (the query as a (1, dim) array, k)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if np.ndim(query) != 1:
            raise ValueError(f"search_payloads takes one query of shape ({self._dim},), got {np.shape(query)}")
        return self._vectors(query, "query"), int(k)

    def _vectors(self, vectors: Any, name: str) -> np.ndarray:
        arr = np.asarray(vectors)
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self._dim:
            raise ValueError(f"{name} must have shape (n, {self._dim}) or ({self._dim},), got {np.shape(vectors)}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} holds NaN or infinity: drop or replace such vectors")
        return arr

    # -- the public API -------------------------------------------------------------------

    def add(self, ids: Any, vectors: Any, namespace: str = "default") -> None:
        """Adds ``vectors`` (n, dim) under ``ids`` (n,); an id already present is replaced.

        Within one call a repeated id keeps its last vector.
        """
        namespace = _check_namespace(namespace)
        ids = self._ids(ids)
        vectors = self._vectors(vectors, "vectors")
        if len(ids) != len(vectors):
            raise ValueError(f"got {len(ids)} ids for {len(vectors)} vectors: pass one id per vector")
        if len(ids) == 0:
            return
        # Keep the last occurrence of each id, as sequential adds would.
        _, last = np.unique(ids[::-1], return_index=True)
        if len(last) != len(ids):
            keep = np.sort(len(ids) - 1 - last)
            ids, vectors = ids[keep], vectors[keep]
        self._add(namespace, ids, vectors)

    def add_many(self, ids: Any, vectors: Any, namespace: str = "default") -> None:
        """``add`` for a bulk load: many distinct ids into one namespace at once. A backend that
        builds its index faster from many vectors together (on several threads) overrides it;
        by default it is ``add``."""
        self.add(ids, vectors, namespace)

    def remove(self, ids: Any, namespace: str = "default") -> int:
        """Removes ``ids`` from the namespace; unknown ids are ignored. Returns how many went."""
        namespace = _check_namespace(namespace)
        ids = np.unique(self._ids(ids))
        if len(ids) == 0:
            return 0
        return self._remove(namespace, ids)

    def search(self, queries: Any, k: int = 10, namespace: str = "default") -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest vectors of each query, best first: ``(ids, scores)``.

        Both are (n, k) for queries (n, dim), or (k,) for one query (dim,). ``ids`` is uint64
        and ``scores`` float32; slots beyond the namespace's size hold ``EMPTY_ID`` and NaN.
        """
        namespace = _check_namespace(namespace)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        one = np.ndim(queries) == 1
        queries = self._vectors(queries, "queries")
        ids = np.full((len(queries), int(k)), EMPTY_ID, np.uint64)
        scores = np.full((len(queries), int(k)), np.nan, np.float32)
        if len(queries) and (not self._count_before_search or self.count(namespace)):
            self._search(namespace, queries, int(k), ids, scores)
        return (ids[0], scores[0]) if one else (ids, scores)

    def contains(self, id: int, namespace: str = "default") -> bool:
        """Whether ``id`` is in the namespace."""
        try:
            key = int(id)
        except (TypeError, ValueError):
            return False
        if not 0 <= key < 2**64 - 1:
            return False
        return self._contains(_check_namespace(namespace), key)

    def __contains__(self, id: object) -> bool:
        """``id in store``: membership in the "default" namespace."""
        return self.contains(id)  # type: ignore[arg-type]

    def __len__(self) -> int:
        """Vectors in all namespaces."""
        return sum(self.count(ns) for ns in self.namespaces())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self._dim}, metric={self._metric!r}, len={len(self)})"

    @abc.abstractmethod
    def count(self, namespace: str = "default") -> int:
        """Vectors in one namespace."""

    @abc.abstractmethod
    def namespaces(self) -> list[str]:
        """Names of the namespaces that hold vectors, sorted."""

    @abc.abstractmethod
    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the store to ``path``, replacing what was there only once the write is complete."""

    @classmethod
    @abc.abstractmethod
    def load(cls, path: str | os.PathLike[str]) -> VectorStore:
        """Reads a store written by ``save`` of the same class."""

    @abc.abstractmethod
    def _add(self, namespace: str, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _remove(self, namespace: str, ids: np.ndarray) -> int: ...

    @abc.abstractmethod
    def _search(self, namespace: str, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray) -> None:
        """Fills the (n, k) ``ids`` and ``scores`` arrays, which start empty."""

    @abc.abstractmethod
    def _contains(self, namespace: str, id: int) -> bool: ...


@contextlib.contextmanager
def _replace_dir(path: Path) -> Iterator[Path]:
    """A new directory beside ``path`` to write a save into; when the block ends without an
    error it takes the place of ``path``. An interrupted save leaves the old one in place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def _read_meta(path: Path, cls: type) -> dict[str, Any]:
    """The ``store.json`` of a directory written by ``cls.save``; a ValueError when it is missing,
    damaged, or written by another class."""
    try:
        meta = json.loads((path / _META).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not a saved vector store ({e}): pass the path given to save()") from e
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT or meta.get("store") != cls.__name__:
        raise ValueError(
            f"{path} holds a {meta.get('store') if isinstance(meta, dict) else 'foreign'} store, "
            f"not a {cls.__name__} one: load it with its own class"
        )
    return meta


def _library(module: str, store: str, extra: str) -> Any:
    """Imports an optional backend library, or says which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{store} needs {module}: pip install 'dejacache[{extra}]'") from e


def payload_results(
    rows: Sequence[tuple[int, float, str | None]], k: int
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """``search_payloads``' answer from (id, score, payload) rows, best first: (ids (k,), scores
    (k,), payloads); empty slots hold ``EMPTY_ID``, NaN and None."""
    ids = np.full(k, EMPTY_ID, np.uint64)
    scores = np.full(k, np.nan, np.float32)
    texts: list[str | None] = [None] * k
    for j, (vid, score, text) in enumerate(rows[:k]):
        ids[j], scores[j], texts[j] = vid, score, text
    return ids, scores, texts
