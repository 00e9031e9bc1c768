"""The shared half of the vector-database adapters (Milvus, Qdrant, Chroma).

A database holds every namespace in one collection: each row carries its namespace and its
uint64 id, and every search, count and membership test filters on the namespace, so one
tenant's (or scope's) rows are never candidates for another's query. A row's key in the
database is a digest of (namespace, id), so the same id in two namespaces are two rows and an
add of an id already present replaces it (an upsert).

uint64 ids do not fit the databases' signed 64-bit integers: they are stored as the int64 with
the same bits (``as_i64``) and turned back on the way out.

The connection is made on first use and made again after a failure: a database that is down
when the cache starts, or goes down later, makes the calls fail (the semantic tier turns that
into misses), and the store works again once the database is back.

**Payloads.** Several processes may search one database, so a vector can carry a text payload
(``add(..., payloads=[str | None, ...])``, read back with ``search_payloads``): the semantic tier
keeps the entry's key and request text there, so a process that did not store a vector can
still serve it. This is the protocol of ``RemoteVectorStore`` (Redis, pgvector): ``remote =
True``, ``from_url(url, dim, metric, **options)``, ``add(..., payloads=)`` and
``search_payloads(query, k, namespace)``.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._base import _FORMAT, _META, VectorStore, _check_namespace, _read_meta, _replace_dir, payload_results

#: rows sent to a database per request when adding or exporting many
BATCH = 1000
#: longest payload kept with a vector (the semantic tier's key and request text)

#: (id, score, payload) of one neighbour, as a database returns it
Row = tuple[int, float, "str | None"]


def row_key(namespace: str, id: int) -> bytes:
    """16 bytes naming the row of ``id`` in ``namespace`` (the same in every process)."""
    h = hashlib.blake2b(namespace.encode("utf-8", "surrogatepass"), digest_size=16, key=b"dejacache-row")
    h.update(int(id).to_bytes(8, "little"))
    return h.digest()


def url_parts(url: str, schemes: tuple[str, ...]) -> tuple[str, str, str]:
    """``(scheme, host:port, path)`` of a vector-database URL: ``scheme://host:port`` names a
    server; ``scheme:///relative/path`` and ``scheme:////absolute/path`` a local database
    (SQLAlchemy's convention, as ``sqlite:`` store URLs). ``os.environ/NAME`` is read from the
    environment."""
    from ..stores import resolve_secret

    url = resolve_secret(url, "vector_store")
    if not isinstance(url, str):
        raise TypeError(f"a vector store URL must be a str, not {url!r}")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in schemes:
        raise ValueError(f"{url!r} is not a {' or '.join(s + '://' for s in schemes)} URL")
    netloc, slash, path = rest.partition("/")
    path = path.split("?", 1)[0]
    if netloc:
        if path:
            raise ValueError(f"{url!r}: a server URL is {scheme}://host:port, with nothing after the port")
        return scheme.lower(), netloc, ""
    if not slash or not path:
        raise ValueError(f"{url!r}: give {scheme}://host:port, {scheme}:///relative/path or {scheme}:////absolute/path")
    return scheme.lower(), "", path


def namespace_hash(namespace: str) -> int:
    """A signed 64-bit digest of a namespace, for databases whose filter strings we do not quote."""
    digest = hashlib.blake2b(namespace.encode("utf-8", "surrogatepass"), digest_size=8, key=b"dejacache-ns").digest()
    return int.from_bytes(digest, "little", signed=True)


def as_i64(ids: np.ndarray) -> list[int]:
    """uint64 ids as the signed int64 values with the same bits."""
    return np.ascontiguousarray(ids, np.uint64).view(np.int64).tolist()


def as_u64(values: Any) -> np.ndarray:
    """The inverse of :func:`as_i64`."""
    return np.asarray(values, np.int64).reshape(-1).view(np.uint64)


class DatabaseStore(VectorStore):
    """A ``VectorStore`` over one collection of a vector database (see the module docstring).

    ``save(path)`` exports every namespace to a directory and ``load(path, **options)`` imports
    it into a new store built with ``options`` (by default each class's private local store):
    a backup and a way to move vectors between databases. The database itself is durable.
    """

    #: local (embedded) clients are not all safe for threads: their calls go one at a time
    _serialize = True
    #: the semantic tier keeps payloads in it and puts it behind its fail-open guard
    remote = True
    _count_before_search = False  # a count before each search would be a second round trip

    def __init__(self, dim: int, metric: str = "cosine") -> None:
        super().__init__(dim, metric)
        self._lock = threading.RLock()
        self._ready = False

    # -- subclasses implement these on their client ----------------------------------------

    @abc.abstractmethod
    def _connect(self) -> None:
        """Opens the client and the collection (creating it), checking its dimension and metric."""

    @abc.abstractmethod
    def _disconnect(self) -> None:
        """Drops the client after a failure, so that the next call connects again."""

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str, dim: int, metric: str = "cosine", **options: Any) -> DatabaseStore:
        """The store a URL names (see ``vectorstores._open``)."""

    @abc.abstractmethod
    def _upsert(self, namespace: str, ids: np.ndarray, vectors: np.ndarray, payloads: list[str | None]) -> None: ...

    @abc.abstractmethod
    def _present(self, namespace: str, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` are rows of the namespace (a bool mask)."""

    @abc.abstractmethod
    def _delete(self, namespace: str, ids: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _query(self, namespace: str, queries: np.ndarray, k: int) -> list[list[Row]]:
        """Each query's nearest rows, best first, scored as ``VectorStore`` defines scores."""

    @abc.abstractmethod
    def _count(self, namespace: str | None) -> int:
        """Rows of one namespace, or of all when None."""

    @abc.abstractmethod
    def _namespaces(self) -> set[str]: ...

    @abc.abstractmethod
    def _export(self, namespace: str) -> Iterator[tuple[np.ndarray, np.ndarray, list[str | None]]]:
        """The namespace's (ids, vectors, payloads), in batches."""

    def close(self) -> None:
        """Closes the client; a later call connects again."""
        with self._lock:
            self._ready = False
            self._disconnect()

    # -- plumbing -------------------------------------------------------------------------

    def _connect_or_warn(self, server: str) -> None:
        """Connects now to catch bad arguments early; a server that is down now may be up at the
        first call, so that is a warning, not an error."""
        try:
            with self._call():
                pass
        except (ValueError, TypeError):
            raise
        except Exception as exc:  # noqa: BLE001 - retried at the next call
            import logging

            logging.getLogger("dejacache").warning("dejacache: %s not reachable yet (%r); will retry", server, exc)

    @contextlib.contextmanager
    def _call(self) -> Iterator[None]:
        """Connects if needed; on a failure, drops the connection so the next call retries."""
        lock = self._lock if self._serialize else contextlib.nullcontext()
        with lock:
            if not self._ready:
                with self._lock:
                    if not self._ready:
                        self._connect()
                        self._ready = True
            try:
                yield
            except (ValueError, TypeError):
                raise
            except Exception:
                with self._lock:
                    self._ready = False
                    with contextlib.suppress(Exception):
                        self._disconnect()
                raise

    # -- VectorStore ----------------------------------------------------------------------

    def add(
        self, ids: Any, vectors: Any, namespace: str = "default", payloads: Sequence[str | None] | None = None
    ) -> None:
        """``VectorStore.add``, each vector with an optional text payload (``payloads[i]`` for ``ids[i]``)."""
        namespace = _check_namespace(namespace)
        ids, vectors, texts = self._payload_rows(ids, vectors, payloads)
        if not len(ids):
            return
        with self._call():
            for start in range(0, len(ids), BATCH):
                end = start + BATCH
                self._upsert(namespace, ids[start:end], vectors[start:end], texts[start:end])

    def _add(self, namespace: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.add(ids, vectors, namespace)

    def _remove(self, namespace: str, ids: np.ndarray) -> int:
        with self._call():
            present = ids[self._present(namespace, ids)]
            if len(present):
                self._delete(namespace, present)
            return len(present)

    def _search(self, namespace: str, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray) -> None:
        with self._call():
            found = self._query(namespace, queries, k)
        for row, rows in enumerate(found):
            for j, (vid, score, _) in enumerate(rows[:k]):
                ids[row, j], scores[row, j] = vid, score

    def search_payloads(
        self, query: Any, k: int = 10, namespace: str = "default"
    ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """The ``k`` nearest vectors of one query (dim,), best first, with their payloads:
        ``(ids (k,), scores (k,), payloads)``; empty slots hold ``EMPTY_ID``, NaN and None."""
        namespace = _check_namespace(namespace)
        q, k = self._payload_query(query, k)
        with self._call():
            rows = self._query(namespace, q, k)[0]
        return payload_results(rows, k)

    def _contains(self, namespace: str, id: int) -> bool:
        with self._call():
            return bool(self._present(namespace, np.array([id], np.uint64))[0])

    def count(self, namespace: str = "default") -> int:
        with self._call():
            return self._count(_check_namespace(namespace))

    def namespaces(self) -> list[str]:
        with self._call():
            return sorted(self._namespaces())

    def __len__(self) -> int:
        with self._call():
            return self._count(None)

    def _options(self) -> dict[str, Any]:
        return {}

    def save(self, path: str | os.PathLike[str]) -> None:
        with _replace_dir(Path(path)) as tmp:
            names = self.namespaces()
            for i, namespace in enumerate(names):
                parts = list(self._export_locked(namespace))
                ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.uint64)
                vecs = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, self._dim), np.float32)
                np.save(tmp / f"ns{i}.ids.npy", ids.astype(np.uint64))
                np.save(tmp / f"ns{i}.vectors.npy", vecs.astype(np.float32))
                (tmp / f"ns{i}.payloads.json").write_text(json.dumps([t for p in parts for t in p[2]]))
            meta = {"format": _FORMAT, "store": type(self).__name__, "dim": self._dim, "metric": self._metric}
            (tmp / _META).write_text(json.dumps({**meta, "namespaces": names}))

    def _export_locked(self, namespace: str) -> Iterator[tuple[np.ndarray, np.ndarray, list[str | None]]]:
        with self._call():
            yield from self._export(namespace)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> DatabaseStore:
        """A new store (built with ``options``) holding what ``save`` wrote to ``path``."""
        path = Path(path)
        meta = _read_meta(path, cls)
        store = cls(meta["dim"], meta["metric"], **options)
        for i, namespace in enumerate(meta["namespaces"]):
            ids = np.load(path / f"ns{i}.ids.npy")
            payloads = json.loads((path / f"ns{i}.payloads.json").read_text())
            store.add(ids, np.load(path / f"ns{i}.vectors.npy"), namespace=namespace, payloads=payloads)
        return store
