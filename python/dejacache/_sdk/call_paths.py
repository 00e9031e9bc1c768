"""The call paths of a wrapped SDK method, for any ``Endpoint``, sync and async: a plain call
goes through ``Cache.call`` / ``acall``; a streamed call replays a hit, joins an identical
stream under way (single-flight, in this process and across processes sharing a store) or
records the provider's stream and stores its answer when it completes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .._cost.cost import call_meta
from .base import Endpoint, WrapContext, build_request, pop_controls, rebuild
from .shared_streams import alead_across, lead_across

log = logging.getLogger("dejacache")


class StreamStore:
    """Stores a streamed answer when its stream completes (``store(answer)``; None: no answer),
    then ends the single-flights the stream leads: across processes (``lead``, the store's lock)
    and in this one (``flight``)."""

    __slots__ = ("ctx", "endpoint", "request", "caching", "controls", "namespace", "start", "flight", "slot", "lead")

    def __init__(self, ctx, endpoint, request, caching, controls, namespace):
        self.ctx, self.endpoint, self.request = ctx, endpoint, request
        self.caching, self.controls, self.namespace = caching, controls, namespace
        self.start = time.perf_counter()
        self.flight: Any = None
        self.slot: Any = None
        self.lead: Any = None  # the store's lock, when this stream leads across processes

    def step(self) -> None:
        if self.flight is not None:
            self.flight.step()
        if self.lead is not None:
            self.lead.step()

    def __call__(self, stored: dict | None, collected: bool = False) -> None:
        """``collected``: called from a finalizer, which must do no store I/O (the lock then
        expires instead of being released)."""
        done = False
        try:
            done = stored is not None and self._put(stored)
        finally:  # whatever happened to the answer, the waiters go on
            if self.lead is not None:
                self.lead.end(release=not collected)
            if self.flight is not None:
                self.ctx.cache.stream_flights.end(self.slot, self.flight, done)

    async def asettle(self, stored: dict | None) -> None:
        """``self(stored)`` for a coroutine: off the event loop unless the cache is in-process."""
        if self.ctx.cache.in_process:
            self(stored)
        else:
            await asyncio.to_thread(self, stored)

    def settle_soon(self) -> None:
        """``self(None)`` for a coroutine that cannot wait (failed or cancelled): releasing a
        lock held in a shared store runs on a worker thread, and this returns at once."""
        if self.lead is None or self.ctx.cache.in_process:
            self(None)
        else:
            asyncio.get_running_loop().run_in_executor(None, self, None)

    def _put(self, stored: dict) -> bool:
        meta = call_meta(stored, latency_s=time.perf_counter() - self.start)
        try:
            self.ctx.cache.put(
                self.request, stored, caching=self.caching, cache=self.controls, namespace=self.namespace, meta=meta
            )
            return True
        except (TypeError, ValueError) as exc:
            log.warning("dejacache: streamed answer not stored: %s", exc)
            return False


def store_as_of(endpoint: Endpoint) -> Callable[[Any, float], tuple[dict, dict]]:
    def store_as(response: Any, latency: float) -> tuple[dict, dict]:
        stored = endpoint.store_form(response)
        return stored, call_meta(stored, latency_s=latency)

    return store_as


def _cacheable(ctx: WrapContext, request: dict) -> bool:
    try:
        ctx.cache.key(request)
        return True
    except (TypeError, ValueError) as exc:
        log.warning("dejacache: request not cacheable, calling the provider directly: %s", exc)
        return False


class Call:
    """One call's controls, key document and arguments, as both call paths need them."""

    __slots__ = ("kwargs", "request", "caching", "controls", "namespace", "source", "max_age")

    def __init__(self, endpoint: Endpoint, ctx: WrapContext, kwargs: dict):
        self.source = "exact"  # the tier that answered a replayed stream
        self.max_age: float | None = None  # of a streamed miss: what the store's entry may be
        self.caching, self.controls = pop_controls(kwargs)
        self.namespace = ctx.namespace_for(self.controls)
        self.kwargs, self.request = endpoint.prepare(kwargs, build_request(endpoint.name, ctx, kwargs), ctx)

    def through(self, cache: Any, llm: Callable[[Any], Any], store_as: Any) -> Any:
        """``cache.call`` of this call: the cached answer, or ``llm``'s (stored with ``store_as``)."""
        return cache.call(
            self.request, llm, caching=self.caching, cache=self.controls, namespace=self.namespace, store_as=store_as
        )

    async def athrough(self, cache: Any, llm: Callable[[Any], Any], store_as: Any) -> Any:
        """``through`` for asyncio (``cache.acall``; ``llm`` is a coroutine function)."""
        return await cache.acall(
            self.request, llm, caching=self.caching, cache=self.controls, namespace=self.namespace, store_as=store_as
        )

    def stream_plan(self, endpoint: Endpoint, ctx: WrapContext, owner: Any) -> tuple[Any, Any, Any]:
        """What a streamed call does: (events to replay, None, None) on a hit; (None, store, None)
        on a miss it calls upstream for; (None, None, flight) to wait for an identical streamed
        miss under way; (None, None, None) when the request cannot be keyed. ``owner`` (the
        thread or task) joins single-flight; None makes a call of its own."""
        if not _cacheable(ctx, self.request):
            return None, None, None
        cache = ctx.cache
        hit = cache.get(self.request, caching=self.caching, cache=self.controls, namespace=self.namespace)
        if hit is not None:
            self.source = hit.source
            return endpoint.replay(hit.response, self.kwargs, ctx.replay_chunk_chars), None, None
        store = StreamStore(ctx, endpoint, self.request, self.caching, self.controls, self.namespace)
        ctl = cache.resolve_controls(self.request, self.caching, self.controls, self.namespace)
        if owner is None or not (ctl.read and ctl.write):
            return None, store, None
        slot = (ctl.namespace, cache.key(self.request))
        flight, led = cache.stream_flights.lead_or_follow(slot, owner)
        if led:
            store.flight, store.slot, self.max_age = flight, slot, ctl.max_age
        elif flight.owner != owner:  # a caller never waits for a stream it holds itself
            return None, None, flight
        return None, store, None


def _record(streams: Any, is_async: bool, upstream: Any, endpoint: Endpoint, kwargs: dict, store: StreamStore) -> Any:
    cls = streams.AsyncRecording if is_async else streams.Recording
    return cls(upstream, endpoint.assembler(kwargs), store)


def _stream_sync(endpoint: Endpoint, ctx: WrapContext, original: Callable, streams: Any, call: Call) -> Any:
    owner: Any = threading.get_ident()
    while True:
        events, store, flight = call.stream_plan(endpoint, ctx, owner)
        if flight is None:
            break
        # ended: look again (a replay, or lead the retry); stalled: make a call of our own
        owner = owner if flight.wait(ctx.cache.stream_flights.stall_s) else None
    if events is None:
        events = lead_across(endpoint, ctx, call, store)  # one call across processes too
    if events is not None:
        return streams.Replay(events, endpoint.event_builder(), call.source)
    if store is None:
        return original(**call.kwargs)
    try:
        upstream = original(**endpoint.stream_kwargs(call.kwargs, ctx))
    except BaseException:
        store(None)
        raise
    return _record(streams, False, upstream, endpoint, call.kwargs, store)


async def _plan_off_loop(endpoint: Endpoint, ctx: WrapContext, call: Call, owner: Any) -> tuple[Any, Any, Any]:
    """``call.stream_plan`` on a worker thread. Cancelled meanwhile, the caller never learns the
    plan: a flight it was made to lead is ended when the thread is done, so no follower waits
    for a stream that never starts."""
    planned = asyncio.get_running_loop().run_in_executor(None, call.stream_plan, endpoint, ctx, owner)
    try:
        return await asyncio.shield(planned)
    except asyncio.CancelledError:
        planned.add_done_callback(_end_unused_plan)
        raise


def _end_unused_plan(planned: asyncio.Future) -> None:
    if not planned.cancelled() and planned.exception() is None:
        store = planned.result()[1]
        if store is not None:
            store(None)  # no lock is held yet: this only wakes this process's followers


async def _stream_async(endpoint: Endpoint, ctx: WrapContext, original: Callable, streams: Any, call: Call) -> Any:
    owner: Any = asyncio.current_task()
    inline = ctx.cache.in_process  # else the store (or the semantic tier's embedder) is read off the loop
    while True:
        if inline:
            events, store, flight = call.stream_plan(endpoint, ctx, owner)
        else:
            events, store, flight = await _plan_off_loop(endpoint, ctx, call, owner)
        if flight is None:
            break
        owner = owner if await flight.await_end(ctx.cache.stream_flights.stall_s) else None
    if events is None:
        events = await alead_across(endpoint, ctx, call, store)
    if events is not None:
        return streams.AsyncReplay(events, endpoint.event_builder(), call.source)
    if store is None:
        return await original(**call.kwargs)
    try:
        upstream = await original(**endpoint.stream_kwargs(call.kwargs, ctx))
    except BaseException:
        store.settle_soon()
        raise
    return _record(streams, True, upstream, endpoint, call.kwargs, store)


def create_sync(endpoint: Endpoint, ctx: WrapContext, original: Callable, streams: Any, kwargs: dict) -> Any:
    if kwargs.get("caching") is False:
        pop_controls(kwargs)
        return original(**kwargs)
    call = Call(endpoint, ctx, kwargs)
    kwargs = call.kwargs
    if kwargs.get("stream") is True:
        return _stream_sync(endpoint, ctx, original, streams, call)
    out = call.through(ctx.cache, lambda _: original(**kwargs), store_as_of(endpoint))
    return rebuild(endpoint.response_cls(), out) if type(out) is dict else out


async def create_async(endpoint: Endpoint, ctx: WrapContext, original: Callable, streams: Any, kwargs: dict) -> Any:
    if kwargs.get("caching") is False:
        pop_controls(kwargs)
        return await original(**kwargs)
    call = Call(endpoint, ctx, kwargs)
    kwargs = call.kwargs
    if kwargs.get("stream") is True:
        return await _stream_async(endpoint, ctx, original, streams, call)

    async def llm(_: Any) -> Any:
        return await original(**kwargs)

    out = await call.athrough(ctx.cache, llm, store_as_of(endpoint))
    return rebuild(endpoint.response_cls(), out) if type(out) is dict else out
