"""Vector stores chosen by URL: ``Semantic(vector_store="redis://host:6379")`` and the same in YAML.

Each scheme names the module and class that opens it; a class implements
``from_url(url, dim, metric="cosine", **options)``. A new backend is one line in ``SCHEMES``.
A store shared by processes should subclass ``RemoteVectorStore`` (``_remote.py``): its
``remote = True`` puts it behind the semantic tier's fail-open guard, and its payloads let a
process serve answers another one stored.
A value written ``os.environ/NAME`` is read from the environment when the store is opened (when
the cache is built), so a config file need not hold a password.

>>> open_vector_store("redis://localhost:6379/0", dim=384)              # doctest: +SKIP
RedisVectorStore('redis://localhost:6379/0', name='dejacache-vec', dim=384, metric='cosine')
"""

from __future__ import annotations

import importlib
from typing import Any

#: scheme -> (module in dejacache.vectorstores, class, extra that installs its client)
SCHEMES: dict[str, tuple[str, str, str]] = {
    "redis": ("._redisearch", "RedisVectorStore", "redis"),
    "rediss": ("._redisearch", "RedisVectorStore", "redis"),
    "unix": ("._redisearch", "RedisVectorStore", "redis"),
    "postgresql": ("._pgvector", "PgVectorStore", "pgvector"),
    "postgres": ("._pgvector", "PgVectorStore", "pgvector"),
    "postgresql+psycopg": ("._pgvector", "PgVectorStore", "pgvector"),
    # milvus://host:port (milvuss:// over TLS), or a milvus-lite file: milvus:///relative/x.db,
    # milvus:////absolute/x.db
    "milvus": ("._milvus", "MilvusStore", "milvus"),
    "milvuss": ("._milvus", "MilvusStore", "milvus"),
    # qdrant://host:port (qdrants:// over HTTPS), or local mode on disk: qdrant:///relative/dir
    "qdrant": ("._qdrant", "QdrantStore", "qdrant"),
    "qdrants": ("._qdrant", "QdrantStore", "qdrant"),
    # Chroma embedded: chroma:///relative/dir, chroma:////absolute/dir
    "chroma": ("._chroma", "ChromaStore", "chroma"),
}

_ENV_PREFIX = "os.environ/"


def scheme_of(url: str) -> str:
    """The scheme of a vector-store URL, checked against ``SCHEMES`` (a ValueError listing them).
    An ``os.environ/NAME`` reference is accepted as it is: it is read when the store opens."""
    if not isinstance(url, str) or not url:
        raise TypeError(f"a vector store URL must be a non-empty str, not {url!r}")
    if url.startswith(_ENV_PREFIX):
        return ""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ValueError(
            f"unknown vector store URL {url.split('://', 1)[0]!r}: use one of {known}, or pass a store object"
        )
    return scheme


def open_vector_store(url: str, dim: int, metric: str = "cosine", **options: Any) -> Any:
    """The vector store a URL names (see ``SCHEMES``), for vectors of ``dim`` components.
    ``options`` are the class's keyword arguments (``name``, HNSW parameters, timeouts)."""
    from ..stores import resolve_secret

    raw = url
    url = resolve_secret(url, "vector_store")
    module, cls_name, _extra = SCHEMES[scheme_of(url)]
    cls = getattr(importlib.import_module(module, __package__), cls_name)
    # Keep the os.environ/NAME reference in the store, so its repr and snapshots never hold the secret.
    return cls.from_url(raw, dim, metric, **options)
