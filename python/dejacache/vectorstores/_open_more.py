"""URL schemes of the vector databases in this folder, in the form of ``_open.SCHEMES``.

``SCHEMES``: scheme -> (module in dejacache.vectorstores, class, extra that installs its client);
each class opens a URL with ``from_url(url, dim, metric="cosine", **options)``:

- ``milvus://host:port`` (``milvuss://`` over TLS): a Milvus server or cluster;
  ``milvus:///relative/x.db`` / ``milvus:////absolute/x.db``: a milvus-lite file.
- ``qdrant://host:port`` (``qdrants://`` over HTTPS): a Qdrant server;
  ``qdrant:///relative/dir`` / ``qdrant:////absolute/dir``: Qdrant's local mode on disk.
- ``chroma:///relative/dir`` / ``chroma:////absolute/dir``: Chroma embedded.

>>> open_more("qdrant:///vectors.qdrant", dim=384)   # doctest: +SKIP
QdrantStore(dim=384, metric='cosine', at='vectors.qdrant', collection='dejacache_cosine_384')
"""

from __future__ import annotations

import importlib
from typing import Any

#: scheme -> (module in dejacache.vectorstores, class, extra that installs its client)
SCHEMES: dict[str, tuple[str, str, str]] = {
    "milvus": ("._milvus", "MilvusStore", "milvus"),
    "milvuss": ("._milvus", "MilvusStore", "milvus"),
    "qdrant": ("._qdrant", "QdrantStore", "qdrant"),
    "qdrants": ("._qdrant", "QdrantStore", "qdrant"),
    "chroma": ("._chroma", "ChromaStore", "chroma"),
}


def open_more(url: str, dim: int, metric: str = "cosine", **options: Any) -> Any:
    """The store a ``SCHEMES`` URL names, for vectors of ``dim`` components (what
    ``_open.open_vector_store`` does once these schemes are in its table)."""
    scheme = url.split("://", 1)[0].lower() if isinstance(url, str) and "://" in url else ""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown vector store URL {url!r}: use one of {', '.join(s + '://' for s in SCHEMES)}")
    module, cls_name, _extra = SCHEMES[scheme]
    cls = getattr(importlib.import_module(module, __package__), cls_name)
    return cls.from_url(url, dim, metric, **options)
