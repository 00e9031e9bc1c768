"""The semantic tier's vector store, opened at the edge: whatever ``Semantic(vector_store=...)``
holds becomes one ``vectorstores.VectorStore``, which is all the tier talks to.

- ``None``: the built-in index (``BuiltinStore``), kept on disk beside a file store (SQLite) so
  hits survive a restart (``reopen``/``persist``), else in memory;
- a URL: the store it names (``vectorstores.open_vector_store``);
- a ``VectorStore`` as it is; a ``dejacache.VectorIndex`` or any object with ``add``, ``remove``
  and ``search`` behind the interface (``vectorstores._delegate.as_vector_store``).

A store on a server (``remote = True``) goes behind the fail-open guard. What differs between
stores is declared on the interface (``ordered_results``, ``add_many``), never found out from
their type.
"""

from __future__ import annotations

from typing import Any

from .._core import VectorIndex
from ..vectorstores._base import VectorStore
from ..vectorstores._builtin import BuiltinStore
from ..vectorstores._delegate import as_vector_store
from .entries import Entry

#: the graph of the tier's default index: links per node, and the search beam
SEMANTIC_INDEX_M, SEMANTIC_INDEX_EF = 32, 32


def open_vectors(
    spec: Any, *, store: Any, embedder: Any, normalize: bool
) -> tuple[VectorStore, dict[tuple[str, int], Entry]]:
    """The tier's vector store for ``spec`` (see the module docstring) and the entries its
    vectors stand for (those read back from disk; empty for a new or foreign store).
    ``store`` is the exact tier's entry store (a file store keeps the vectors beside it)."""
    dim = int(embedder.dim)
    index = spec
    if isinstance(index, str):
        from ..vectorstores._open import open_vector_store

        index = open_vector_store(index, dim)
    entries: dict[tuple[str, int], Entry] = {}
    if index is None:
        # A wider graph searched with a narrower beam: at 100k entries, M 32 / ef 32 finds
        # the stored neighbour of every real-embedding query in ~60 us, and 98% of them on
        # uniform random vectors in ~110 us, where M 16 / ef 64 took ~90 us and ~145 us for
        # 87% (notes/semantic.md). Inserts cost about twice as much; a put follows an LLM call.
        def new_index() -> VectorIndex:
            return VectorIndex(dim, metric="cosine", M=SEMANTIC_INDEX_M, ef_search=SEMANTIC_INDEX_EF)

        # Beside a file store (SQLite), the vectors are kept on disk too: hits survive a restart.
        from .reopen import open_persisted

        persisted = open_persisted(store, embedder, normalize, new_index, Entry)
        if persisted is None:
            index = BuiltinStore.from_index(new_index())
        else:
            journaled, entries = persisted
            journaled.entries = entries  # what it journals beside each vector: the tier's own map
            index = BuiltinStore.from_index(journaled)
    metric = getattr(index, "metric", "cosine")
    if metric not in ("cosine", "dot"):
        raise ValueError(
            f"the vector store's metric is {metric!r}; the semantic tier compares cosine "
            "similarities: give it a store with metric='cosine'"
        )
    store_dim = getattr(index, "dim", None)
    if isinstance(store_dim, int) and store_dim != dim:
        raise ValueError(
            f"the vector store holds {store_dim}-dimensional vectors but the embedder makes {dim}-dimensional ones"
        )
    vectors = as_vector_store(index, dim)
    if getattr(vectors, "remote", False):
        from ..vectorstores._guard import GuardedVectorStore

        vectors = GuardedVectorStore(vectors)
    return vectors, entries
