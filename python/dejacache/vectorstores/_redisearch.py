"""Redis with vector search (RediSearch, as in Redis Stack) behind the ``VectorStore`` interface
(``pip install 'dejacache[redis]'``).

Layout under the store's ``name`` (default ``dejacache-vec``):

- ``<name>:v:<scope tag>:<id>``: a hash per vector: ``v`` (float32 bytes), ``t`` (tenant tag),
  ``s`` (scope tag), ``p`` (payload, when given). Tags are hex digests of the names, so no query
  escaping is ever needed and a name cannot break out of its filter.
- ``<name>:idx``: the RediSearch index over those hashes: HNSW on ``v`` (COSINE, IP or L2) and
  the two tags, which every KNN query filters on: ``(@t:{..} @s:{..})=>[KNN k @v $vec]``.
- ``<name>:scopes`` (tag -> scope name, for ``namespaces()``) and ``<name>:meta`` (dim, metric:
  a second process opening the name with another dimension gets a clear error).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ._base import _library
from ._remote import RemoteVectorStore, tag_of, tenant_of

_DISTANCE = {"cosine": "COSINE", "dot": "IP", "l2": "L2"}
#: vectors per MULTI in an add: each is indexed as it is written, and one call must stay well
#: inside the socket timeout (1,000 vectors of 384 dimensions took over 2 s on a loaded machine)
_ADD_CHUNK = 64


class RedisVectorStore(RemoteVectorStore):
    """Vectors in Redis Stack (RediSearch), shared by every process that opens the same ``name``.

    >>> store = RedisVectorStore.from_url("redis://localhost:6379/0", dim=384)   # doctest: +SKIP

    ``client``: a ``redis.Redis`` (RESP2) to use instead of opening ``url``. ``M``,
    ``ef_construction`` and ``ef_search`` are RediSearch's HNSW parameters (a query asks for
    at least ``k``). ``socket_timeout`` / ``socket_connect_timeout`` bound each call.
    """

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        url: str = "redis://localhost:6379/0",
        name: str = "dejacache-vec",
        *,
        M: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        socket_timeout: float = 2.0,
        socket_connect_timeout: float = 0.5,
        client: Any = None,
    ) -> None:
        redis = _library("redis", "RedisVectorStore", "redis")
        super().__init__(dim, metric, url, name)
        self._set_hnsw(M, ef_construction, ef_search)
        self._response_error = redis.ResponseError
        if client is None:
            # No connection is made here: redis-py connects on the first command.
            client = redis.Redis.from_url(
                self._resolved_url(),
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_connect_timeout,
                protocol=2,
            )
        self._r = client
        self._idx, self._prefix = f"{name}:idx", f"{name}:v:"
        self._scopes_key, self._meta_key = f"{name}:scopes", f"{name}:meta"
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- the index --------------------------------------------------------------------------

    def _ensure(self) -> None:
        """Creates the index on first use (once per process; racing processes are fine)."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            r = self._r
            r.hsetnx(self._meta_key, "dim", self._dim)
            r.hsetnx(self._meta_key, "metric", self._metric)
            dim, metric = r.hmget(self._meta_key, ["dim", "metric"])
            if int(dim) != self._dim or metric.decode() != self._metric:
                raise ValueError(
                    f"the Redis vector store {self._name!r} holds {int(dim)}-dimensional {metric.decode()} vectors, "
                    f"not {self._dim}-dimensional {self._metric} ones: open it with those, or pick another name"
                )
            try:
                r.execute_command(
                    "FT.CREATE", self._idx, "ON", "HASH", "PREFIX", 1, self._prefix,
                    "SCHEMA", "t", "TAG", "s", "TAG",
                    "v", "VECTOR", "HNSW", 10, "TYPE", "FLOAT32", "DIM", self._dim,
                    "DISTANCE_METRIC", _DISTANCE[self._metric], "M", self._M, "EF_CONSTRUCTION", self._efc,
                )  # fmt: skip
            except self._response_error as exc:
                if "already exists" not in str(exc).lower():
                    raise
            self._ready = True

    def _key(self, scope_tag: str, vid: int) -> str:
        return f"{self._prefix}{scope_tag}:{vid}"

    def _score(self, distance: float) -> float:
        # RediSearch reports 1 - cos for COSINE, 1 - dot for IP and the squared distance for L2.
        return distance if self._metric == "l2" else 1.0 - distance

    # -- VectorStore ----------------------------------------------------------------------------

    def _add_rows(self, namespace: str, ids: np.ndarray, vectors: np.ndarray, payloads: list[str | None]) -> None:
        self._ensure()
        stag, ttag = tag_of(namespace), tag_of(tenant_of(namespace))
        # MULTI per chunk: a reader sees each vector before or after its replacement, never
        # without it; chunks keep each call (RediSearch indexes as it writes) within the timeout.
        rows = list(zip(ids.tolist(), vectors, payloads))
        for start in range(0, len(rows), _ADD_CHUNK):
            pipe = self._r.pipeline(transaction=True)
            pipe.hset(self._scopes_key, stag, namespace)
            for vid, row, payload in rows[start : start + _ADD_CHUNK]:
                key = self._key(stag, vid)
                fields: dict[str, Any] = {"v": row.tobytes(), "t": ttag, "s": stag}
                if payload is not None:
                    fields["p"] = payload
                pipe.delete(key)
                pipe.hset(key, mapping=fields)
            pipe.execute()

    def _remove(self, namespace: str, ids: np.ndarray) -> int:
        stag = tag_of(namespace)
        return int(self._r.delete(*(self._key(stag, vid) for vid in ids.tolist())))

    def _query(self, namespace: str, query: np.ndarray, k: int) -> list[Any]:
        knn = (
            f"(@t:{{{tag_of(tenant_of(namespace))}}} @s:{{{tag_of(namespace)}}})=>[KNN $k @v $vec EF_RUNTIME $ef AS d]"
        )
        return [
            "FT.SEARCH", self._idx, knn,
            "PARAMS", 6, "k", k, "vec", query.tobytes(), "ef", max(self._ef, k),
            "SORTBY", "d", "RETURN", 2, "d", "p", "LIMIT", 0, k, "DIALECT", 2,
        ]  # fmt: skip

    def _rows(self, reply: list[Any]) -> list[tuple[int, float, str | None]]:
        out = []
        for i in range(1, len(reply) - 1, 2):
            key, fields = reply[i], reply[i + 1]
            values = dict(zip(fields[::2], fields[1::2]))
            payload = values.get(b"p")
            vid = int(key.rsplit(b":", 1)[1])
            out.append((vid, self._score(float(values[b"d"])), None if payload is None else payload.decode()))
        return out

    def _ft(self, run: Any) -> Any:
        """Runs an index command; when the index is gone (a restarted server without
        persistence, a FLUSHALL), makes it again, once, and reruns the command."""
        self._ensure()
        try:
            return run()
        except self._response_error as exc:
            text = str(exc).lower()
            if "no such index" not in text and "unknown index" not in text:
                raise
            with self._ready_lock:
                self._ready = False
            self._ensure()
            return run()

    def _search_rows(self, namespace: str, query: np.ndarray, k: int) -> list[tuple[int, float, str | None]]:
        return self._rows(self._ft(lambda: self._r.execute_command(*self._query(namespace, query, k))))

    def _search_many(self, namespace: str, queries: np.ndarray, k: int) -> list[list[tuple[int, float, str | None]]]:
        if len(queries) == 1:
            return [self._search_rows(namespace, queries[0], k)]

        def run() -> list[Any]:
            pipe = self._r.pipeline(transaction=False)
            for q in queries:
                pipe.execute_command(*self._query(namespace, q, k))
            return pipe.execute()

        return [self._rows(reply) for reply in self._ft(run)]

    def _contains(self, namespace: str, id: int) -> bool:
        return bool(self._r.exists(self._key(tag_of(namespace), id)))

    def _total(self, where: str) -> int:
        return int(
            self._ft(lambda: self._r.execute_command("FT.SEARCH", self._idx, where, "LIMIT", 0, 0, "DIALECT", 2))[0]
        )

    def count(self, namespace: str = "default") -> int:
        return self._total(f"@s:{{{tag_of(namespace)}}}")

    def __len__(self) -> int:
        return self._total("*")

    def namespaces(self) -> list[str]:
        self._ensure()
        names = sorted(v.decode() for v in self._r.hgetall(self._scopes_key).values())
        return [n for n in names if self.count(n)]

    def _dump(self, namespace: str) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        stag = tag_of(namespace)
        keys = sorted(self._r.scan_iter(match=f"{self._prefix}{stag}:*", count=1000))
        ids, rows, payloads = [], [], []
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, ["v", "p"])
        for key, (v, p) in zip(keys, pipe.execute()):
            if v is None:
                continue  # removed while we read
            ids.append(int(key.rsplit(b":", 1)[1]))
            rows.append(np.frombuffer(v, np.float32))
            payloads.append(None if p is None else p.decode())
        vectors = np.stack(rows) if rows else np.empty((0, self._dim), np.float32)
        return np.asarray(ids, np.uint64), vectors, payloads

    def drop_all(self) -> None:
        try:
            self._r.execute_command("FT.DROPINDEX", self._idx, "DD")
        except self._response_error as exc:
            if "unknown index" not in str(exc).lower() and "no such index" not in str(exc).lower():
                raise
        keys = list(self._r.scan_iter(match=f"{self._prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            self._r.delete(*keys[start : start + 1000])
        self._r.delete(self._scopes_key, self._meta_key)
        with self._ready_lock:
            self._ready = False

    def close(self) -> None:
        """Closes the client's connections."""
        self._r.close()
