"""Vector stores behind one interface: the built-in index (default) and adapters for hnswlib,
usearch and faiss, and for the vector databases Milvus, Qdrant and Chroma, each importing its
library only when constructed.

>>> from dejacache.vectorstores import BuiltinStore, HnswlibStore
>>> store = BuiltinStore(dim=384, metric="cosine")  # doctest: +SKIP
>>> store = HnswlibStore(dim=384)  # needs: pip install 'dejacache[hnswlib]'  # doctest: +SKIP
"""

from ._base import EMPTY_ID, METRICS, VectorStore
from ._builtin import BuiltinStore
from ._chroma import ChromaStore
from ._faiss import FaissStore
from ._hnswlib import HnswlibStore
from ._milvus import MilvusStore
from ._qdrant import QdrantStore
from ._usearch import UsearchStore

__all__ = [
    "EMPTY_ID",
    "METRICS",
    "BuiltinStore",
    "ChromaStore",
    "FaissStore",
    "HnswlibStore",
    "MilvusStore",
    "QdrantStore",
    "UsearchStore",
    "VectorStore",
]
