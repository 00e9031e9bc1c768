"""The state ``Cache.__init__`` sets and the methods ``Cache`` defines, declared once for type
checkers, for the mixins that make up ``Cache`` (``_cache_calls``, ``_cache_writes``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cache import Cache
    from ._controls import Controls
    from ._savings import Savings
    from ._shared_flight import SharedFlights
    from ._singleflight import AsyncFlights, ThreadFlights
    from ._tiers import Tiers


class CacheState:
    """Declarations only: every name here is set by ``Cache.__init__`` or defined by ``Cache``."""

    _store: Any
    _schema: Any
    _clock: Callable[[], float]
    _key_func: Callable[[Any], str] | None
    _defaults: Controls
    _savings: Savings
    _tiers: Tiers | None
    _next: Cache | None
    _flights: ThreadFlights
    _async_flights: AsyncFlights
    _shared_flights: SharedFlights | None
    _local_store: bool
    _store_hit: Callable[..., Any] | None
    _default_call: Callable[[Any], Any] | None
    _async_store: bool

    # Cache's methods, as the mixins call them (see Cache for their signatures and documents)
    key: Callable[[Any], str]
    resolve_controls: Callable[..., Controls]
    _lookup: Callable[[Any, Controls, float], tuple[str, bytes | None, float]]
    _read: Callable[[str, bytes, str], tuple[Any, Any] | None]
    _write: Callable[..., bool]
