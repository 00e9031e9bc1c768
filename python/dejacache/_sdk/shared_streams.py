"""Streamed misses across processes: when the cache's store is shared (``CacheLike.shared_flights``),
identical streamed calls in different processes make one provider call.

The caller that leads this process's flight (``StreamFlights``) then asks the store for its lock
(``SharedFlights.lead_or_wait``). Leading, it streams to its own caller as before; the recorded
answer is stored and only then the lock released (``StreamStore`` in ``call_paths``), and it keeps the lock
while the stream makes progress. Following, it waits for the leader's entry (this process's own
followers keep waiting with it) and replays that entry as a stream, like a hit. A leader that
dies, stalls or stores nothing lets the lock go (expiry, or release without an entry): a waiter
then leads, or calls the provider itself. A store fault means calling the provider: never an
error for the caller.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("dejacache")


def _applies(ctx: Any, store: Any) -> Any:
    """The cache's shared flights when this call leads its process's flight, else None."""
    if store is None or store.flight is None:
        return None
    return ctx.cache.shared_flights


def _replay(endpoint: Any, ctx: Any, call: Any, hit: Any) -> list[dict] | None:
    if hit is None:  # gone meanwhile (expired, unreadable, or older than max-age): call ourselves
        return None
    call.source = hit.source
    return endpoint.replay(hit.response, call.kwargs, ctx.replay_chunk_chars)


def lead_across(endpoint: Any, ctx: Any, call: Any, store: Any) -> list[dict] | None:
    """Events replaying another process's answer (this process's flight is then ended), or None:
    call upstream (holding the store's lock in ``store.lead`` when this process leads)."""
    shared = _applies(ctx, store)
    if shared is None:
        return None
    try:
        return _lead_across(shared, endpoint, ctx, call, store)
    except Exception as exc:  # noqa: BLE001 - fail-open: the provider answers instead
        log.warning("dejacache: streamed call not coordinated across processes: %r", exc)
        return None
    except BaseException:  # interrupted while waiting: this process's followers go on without us
        store(None)
        raise


async def alead_across(endpoint: Any, ctx: Any, call: Any, store: Any) -> list[dict] | None:
    """``lead_across`` for asyncio: the store is read and waited for off the event loop."""
    shared = _applies(ctx, store)
    if shared is None:
        return None
    try:
        return await _alead_across(shared, endpoint, ctx, call, store)
    except Exception as exc:  # noqa: BLE001
        log.warning("dejacache: streamed call not coordinated across processes: %r", exc)
        return None
    except BaseException:  # cancelled while waiting
        store.settle_soon()
        raise


def _lead_across(shared: Any, endpoint: Any, ctx: Any, call: Any, store: Any) -> list[dict] | None:
    cache = ctx.cache
    namespace, key = store.slot
    lead, stored = shared.lead_or_wait(namespace, key, call.max_age, cache.stream_flights.stall_s, waiting=store.step)
    if lead is not None:
        store.lead = lead
        return None
    if not stored:
        return None
    hit = cache.get(call.request, caching=call.caching, cache=call.controls, namespace=call.namespace)
    events = _replay(endpoint, ctx, call, hit)
    if events is not None:
        store(None)  # this process's followers wake and find the entry too
    return events


async def _alead_across(shared: Any, endpoint: Any, ctx: Any, call: Any, store: Any) -> list[dict] | None:
    cache = ctx.cache
    namespace, key = store.slot
    lead, stored = await shared.alead_or_wait(
        namespace, key, call.max_age, cache.stream_flights.stall_s, waiting=store.step
    )
    if lead is not None:
        store.lead = lead
        return None
    if not stored:
        return None
    hit = await asyncio.to_thread(
        cache.get, call.request, caching=call.caching, cache=call.controls, namespace=call.namespace
    )
    events = _replay(endpoint, ctx, call, hit)
    if events is not None:
        store(None)
    return events
