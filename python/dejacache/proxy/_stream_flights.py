"""Single-flight for the proxy's streamed misses across workers: identical streamed requests under
way make one upstream call at every worker and host using the cache's store, when it is shared
(Redis, SQLite, SQL databases: ``CacheLike.shared_flights``); without a shared store, within
this worker (the cache's in-process stream flights). Identical requests in the same worker
join the leader's live stream first (``_streamed``) and seldom get here.

The request that leads relays the upstream stream, stores the answer, then ends its lead; the
others wait and replay the stored answer as SSE, like a hit. A leader that fails, stores
nothing, loses every client, stalls (no event for ``stall_s``) or dies (its lock expires) lets a
waiter go upstream itself: a waiting request is never failed by the cache.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._calls import Call
    from ._gateway import Gateway


class LocalLead:
    """A lead within this worker (no shared store): the cache's in-process stream flight, with
    the interface of a store's ``Lead`` (``step``, ``end``, ``ended``)."""

    __slots__ = ("flights", "slot", "flight")

    def __init__(self, flights: Any, slot: tuple[str, str], flight: Any) -> None:
        self.flights, self.slot, self.flight = flights, slot, flight

    @property
    def ended(self) -> bool:
        return bool(self.flight.ended)

    def step(self) -> None:
        self.flight.step()

    def end(self, release: bool = True) -> None:
        self.flights.end(self.slot, self.flight, False)  # waiters look in the cache themselves


async def lead_stream(gw: Gateway, call: Call) -> tuple[Any, Any]:
    """(lead, None): relay upstream and end ``lead`` once the answer is stored or the stream is
    over (lead None: no single-flight for this request); (None, hit): replay this hit, which an
    identical request stored meanwhile."""
    ctl = call.ctl
    if call.key is None or not (ctl.read and ctl.write):
        return None, None
    cache = gw.cache
    stall_s = cache.stream_flights.stall_s
    shared = cache.shared_flights
    if shared is not None:
        lead, stored = await shared.alead_or_wait(ctl.namespace, call.key, ctl.max_age, stall_s)
        return (lead, None) if not stored else (None, await gw.lookup(call))
    flights, slot, owner = cache.stream_flights, (ctl.namespace, call.key), asyncio.current_task()
    while True:
        flight, led = flights.lead_or_follow(slot, owner)
        if led:
            return LocalLead(flights, slot, flight), None
        if not await flight.await_end(stall_s):  # the leader's stream stalls: a call of our own
            return None, None
        hit = await gw.lookup(call)
        if hit is not None:
            return None, hit
