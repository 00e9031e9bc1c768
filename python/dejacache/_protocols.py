"""What one layer sees of another: the seams, as protocols.

``CacheLike`` is what the SDK wrappers, the tiers, the config loader and (next) the stores'
tools and the proxy may use of a cache; ``Cache`` implements it, and nothing outside
``_cache.py`` touches a ``Cache``'s private attributes. The stores' protocol is
``dejacache.stores.EntryStore``; embedders' ``dejacache.embedders.Embedder``; vector stores'
``dejacache.vectorstores.VectorStore``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._controls import Controls
    from ._core import Hit
    from ._shared_flight import SharedFlights
    from ._singleflight import StreamFlights

#: ``(response, latency_s) -> (JSON-like form to store, meta)``: see ``Cache.call``.
StoreAs = Callable[[Any, float], "tuple[Any, dict]"]


class CacheLike(Protocol):
    """The interface of a cache, as the layers above the core use it."""

    namespace: str

    def key(self, request: Any) -> str: ...

    def resolve_controls(
        self, request: Any, caching: Any = None, cache: Any = None, namespace: Any = None
    ) -> Controls: ...

    def get(
        self,
        request: Any,
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
    ) -> Hit | None: ...

    def put(
        self,
        request: Any,
        response: Any,
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        meta: dict | None = None,
    ) -> str: ...

    def put_many(
        self,
        items: Iterable[Sequence[Any]],
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
    ) -> list[str]: ...

    def delete(self, request: Any, *, namespace: str | None = None) -> bool: ...

    def contains(self, request: Any, *, namespace: str | None = None) -> bool: ...

    def delete_key(self, key: str, *, namespace: str | None = None) -> bool: ...

    def clear(self, namespace: str | None = None) -> int: ...

    def call(
        self,
        request: Any,
        llm: Callable[[Any], Any],
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        store_as: StoreAs | None = None,
    ) -> Any: ...

    async def acall(
        self,
        request: Any,
        llm: Callable[[Any], Any | Awaitable[Any]],
        *,
        caching: bool | None = None,
        cache: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        store_as: StoreAs | None = None,
    ) -> Any: ...

    @property
    def stream_flights(self) -> StreamFlights: ...

    @property
    def in_process(self) -> bool: ...

    @property
    def shared_flights(self) -> SharedFlights | None: ...

    @property
    def semantic(self) -> Any: ...

    def stats(self) -> dict[str, Any]: ...


class Evaluator(Protocol):
    """Scores a cached candidate against a query, in [0, 1] (``dejacache.evaluation``); a plain
    callable ``(query, candidate) -> float`` is accepted wherever an evaluator is."""

    def evaluate(self, query: Any, candidate: Any) -> float: ...


class VectorSearch(Protocol):
    """What the semantic tier uses of a vector store: ``dejacache.VectorIndex`` and every
    ``dejacache.vectorstores.VectorStore`` implement it."""

    def add(self, ids: Any, vectors: Any, namespace: str = ...) -> None: ...

    def remove(self, ids: Any, namespace: str = ...) -> int: ...

    def search(self, queries: Any, k: int = ..., namespace: str = ...) -> tuple[Any, Any]: ...
