"""What the vector stores on a server (Redis Stack, pgvector, ...) share beyond ``VectorStore``.

- **Payloads.** Several processes search one server, so a vector carries the text its finder
  needs (``add(..., payloads=[str, ...])``, read back with ``search_payloads``): the semantic
  tier stores the entry key and the request text there, and a process that did not store the
  vector can still serve it (reading the answer through the shared exact store by that key).
- **Scope and tenant.** The semantic tier's namespaces are scopes ``"<tenant>/<hash of the
  parameters>"``; the adapters keep the tenant (the part before the first ``/``) and the scope
  as two filter fields, and every search filters on both.
- **No I/O at construction.** The index or table is created on first use, so a cache starts
  while its vector database is down (the semantic tier then answers misses, see ``_guard``).
- **save / load** write and restore a snapshot (every vector and payload) of the store's
  name on its server; the file records the URL without its password (``os.environ/NAME`` is
  kept as written), or ``load(path, url=...)`` names the server.
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .._urls import redact
from ._base import _FORMAT, _META, VectorStore, _check_namespace, _read_meta, _replace_dir, payload_results

#: longest payload kept with a vector (the semantic tier's key and request text)


_Store = TypeVar("_Store", bound="RemoteVectorStore")


def tenant_of(namespace: str) -> str:
    """The tenant of a scope ``"<tenant>/<parameters>"`` (the whole name when it has no ``/``)."""
    return namespace.split("/", 1)[0]


def tag_of(name: str) -> str:
    """A short hex digest of a name: safe in any query language, no escaping needed."""
    return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class RemoteVectorStore(VectorStore):
    """A ``VectorStore`` kept on a server and shared by every process that opens the same name.

    Subclasses implement ``_add`` (with payloads), ``_remove``, ``_search_rows``, ``_contains``,
    ``count``, ``namespaces``, ``_dump`` and ``_drop_all``; a server with an HNSW index checks and
    keeps its parameters with ``_set_hnsw``.
    """

    #: the semantic tier puts a store with ``remote = True`` behind its fail-open guard
    remote = True
    _count_before_search = False  # a count before each search would be a second round trip

    def __init__(self, dim: int, metric: str, url: str, name: str) -> None:
        super().__init__(dim, metric)
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-" for c in name):
            raise ValueError(f"name must be a non-empty string of letters, digits, _ and -, got {name!r}")
        self._url, self._name = url, name
        self._M = self._efc = self._ef = 0  # HNSW parameters, when the server builds such an index

    def _set_hnsw(self, M: int, ef_construction: int, ef_search: int) -> None:
        """Checks and keeps the HNSW parameters: graph degree, construction beam, search beam."""
        for label, value in (("M", M), ("ef_construction", ef_construction), ("ef_search", ef_search)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a positive int, got {value!r}")
        self._M, self._efc, self._ef = M, ef_construction, ef_search

    def _resolved_url(self) -> str:
        """The server's URL, an ``os.environ/NAME`` reference read from the environment."""
        from ..stores import resolve_secret

        return resolve_secret(self._url, "vector_store")

    @property
    def name(self) -> str:
        """The index (Redis) or table (PostgreSQL) name on the server."""
        return self._name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self._url)!r}, name={self._name!r}, dim={self._dim}, metric={self._metric!r})"

    @classmethod
    def from_url(cls: type[_Store], url: str, dim: int, metric: str = "cosine", **options: Any) -> _Store:
        """The store on the server ``url`` names (``os.environ/NAME`` read from the environment)."""
        return cls(dim, metric, url, **options)

    # -- payloads -------------------------------------------------------------------------

    def add(self, ids: Any, vectors: Any, namespace: str = "default", payloads: Sequence[str] | None = None) -> None:
        """``VectorStore.add``, each vector with an optional text payload (``payloads[i]`` for ``ids[i]``)."""
        namespace = _check_namespace(namespace)
        ids, vectors, texts = self._payload_rows(ids, vectors, payloads)
        if len(ids):
            self._add_rows(namespace, ids, vectors, texts)

    def _add(self, namespace: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._add_rows(namespace, ids, vectors, [None] * len(ids))

    def search_payloads(
        self, query: Any, k: int = 10, namespace: str = "default"
    ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """The ``k`` nearest vectors of one query (dim,), best first, with their payloads:
        ``(ids (k,), scores (k,), payloads)``; empty slots hold ``EMPTY_ID``, NaN and None."""
        namespace = _check_namespace(namespace)
        q, k = self._payload_query(query, k)
        return payload_results(self._search_rows(namespace, q[0], k), k)

    def _search(self, namespace: str, queries: np.ndarray, k: int, ids: np.ndarray, scores: np.ndarray) -> None:
        for i, rows in enumerate(self._search_many(namespace, queries, k)):
            for j, (vid, score, _) in enumerate(rows[:k]):
                ids[i, j], scores[i, j] = vid, score

    def _search_many(self, namespace: str, queries: np.ndarray, k: int) -> list[list[tuple[int, float, str | None]]]:
        """Rows of each query; a subclass may send them in one round trip."""
        return [self._search_rows(namespace, q, k) for q in queries]

    @abc.abstractmethod
    def _add_rows(self, namespace: str, ids: np.ndarray, vectors: np.ndarray, payloads: list[str | None]) -> None: ...

    @abc.abstractmethod
    def _search_rows(self, namespace: str, query: np.ndarray, k: int) -> list[tuple[int, float, str | None]]:
        """(id, score, payload) of the nearest vectors, best first; the score as the base class defines it."""

    # -- snapshots ------------------------------------------------------------------------

    @abc.abstractmethod
    def _dump(self, namespace: str) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """Every (id, vector, payload) of a namespace."""

    @abc.abstractmethod
    def drop_all(self) -> None:
        """Deletes every vector of this store's name on the server (its index or table too)."""

    def _options(self) -> dict[str, Any]:
        hnsw = {"M": self._M, "ef_construction": self._efc, "ef_search": self._ef} if self._M else {}
        return {"name": self._name, **hnsw}

    def save(self, path: str | os.PathLike[str]) -> None:
        with _replace_dir(Path(path)) as tmp:
            names = self.namespaces()
            for i, namespace in enumerate(names):
                ids, vectors, payloads = self._dump(namespace)
                np.save(tmp / f"ns{i}.ids.npy", ids)
                np.save(tmp / f"ns{i}.vectors.npy", vectors)
                (tmp / f"ns{i}.payloads.json").write_text(json.dumps(payloads))
            meta = {
                "format": _FORMAT,
                "store": type(self).__name__,
                "dim": self._dim,
                "metric": self._metric,
                "url": redact(self._url),
                "options": self._options(),
                "namespaces": names,
            }
            (tmp / _META).write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: str | os.PathLike[str], url: str | None = None, **options: Any) -> RemoteVectorStore:
        """Restores a snapshot into the server (``url``, else the one recorded): the store's name
        on the server then holds exactly the saved vectors."""
        path = Path(path)
        meta = _read_meta(path, cls)
        store = cls.from_url(url or meta["url"], meta["dim"], meta["metric"], **{**meta["options"], **options})
        store.drop_all()
        for i, namespace in enumerate(meta["namespaces"]):
            ids = np.load(path / f"ns{i}.ids.npy")
            vectors = np.load(path / f"ns{i}.vectors.npy")
            payloads = json.loads((path / f"ns{i}.payloads.json").read_text())
            if len(ids):
                store.add(ids, vectors, namespace=namespace, payloads=payloads)
        return store
