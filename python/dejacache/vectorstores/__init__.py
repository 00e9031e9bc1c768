"""Vector stores behind one interface: the built-in index (default) and adapters for hnswlib,
usearch and faiss, each importing its library only when constructed; stores on a server,
shared by processes and hosts: Redis Stack (RediSearch) and PostgreSQL with pgvector; and the
vector databases Milvus, Qdrant and Chroma. A URL opens any of them with ``open_vector_store``
(``Semantic(vector_store="redis://...")``, ``"qdrant:///path"``, ...).

>>> from dejacache.vectorstores import BuiltinStore, HnswlibStore
>>> store = BuiltinStore(dim=384, metric="cosine")  # doctest: +SKIP
>>> store = HnswlibStore(dim=384)  # needs: pip install 'dejacache[hnswlib]'  # doctest: +SKIP
"""

from ._base import EMPTY_ID, METRICS, VectorStore
from ._builtin import BuiltinStore
from ._chroma import ChromaStore
from ._faiss import FaissStore
from ._guard import GuardedVectorStore
from ._hnswlib import HnswlibStore
from ._milvus import MilvusStore
from ._open import open_vector_store
from ._pgvector import PgVectorStore
from ._qdrant import QdrantStore
from ._redisearch import RedisVectorStore
from ._remote import RemoteVectorStore
from ._usearch import UsearchStore

__all__ = [
    "EMPTY_ID",
    "METRICS",
    "BuiltinStore",
    "ChromaStore",
    "FaissStore",
    "GuardedVectorStore",
    "HnswlibStore",
    "MilvusStore",
    "PgVectorStore",
    "QdrantStore",
    "RedisVectorStore",
    "RemoteVectorStore",
    "UsearchStore",
    "VectorStore",
    "open_vector_store",
]
