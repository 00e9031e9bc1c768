"""The proxy's streamed misses: one upstream stream per request under way in this worker, relayed
live to every identical request that arrives while it runs.

The first streamed miss for a ``(namespace, key)`` leads: it takes the single-flight across
workers (``_stream_flights.lead_stream``), calls upstream, and a reader task relays the events
into a ``LiveStream``. Every client of that request in this worker, the leader's included, is a
*tail* of it: it gets the events read so far at once, then each as it comes (``x-dejacache:
miss``, as a non-streamed request that shared another's upstream call). The answer is stored
when the stream ran to its end, whichever tails are still there. When the last tail goes (every
client disconnected) the reader stops and nothing is stored. Identical requests in *other*
workers wait for the stored answer and replay it (``lead_stream``).

A stream that never starts (an upstream error status, an exception, an answer stored meanwhile)
leaves the requests that were about to join it to go on as if alone. A stream that fails
midway ends for every tail as it ends for the leader: the events they already have cannot be
taken back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from . import _sse
from ._errors import ProxyError
from ._stream_flights import lead_stream
from ._upstream import UpstreamError

if TYPE_CHECKING:
    from ._calls import Call
    from ._gateway import Gateway

log = logging.getLogger("dejacache.proxy")


class UpstreamBrokeOff(Exception):
    """Ends a tail whose upstream stream failed midway: its client's connection breaks off."""


class LiveStream:
    """One upstream stream under way: its events so far, and whether it started and ended."""

    def __init__(self) -> None:
        self.events: list[bytes] = []
        #: True once upstream answered 200 and the reader runs; False: it never will
        self.started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.ended = False
        #: why upstream broke off midway (the tails then break off too, as the leader's would)
        self.failure: BaseException | None = None
        self.tails = 0
        self.reader: asyncio.Task | None = None
        self._changed = asyncio.Event()

    def start(self, reader: asyncio.Task | None) -> None:
        self.reader = reader
        if not self.started.done():
            self.started.set_result(reader is not None)

    def push(self, event: bytes) -> None:
        self.events.append(event)
        self._wake()

    def end(self, failure: BaseException | None = None) -> None:
        self.ended, self.failure = True, failure
        if not self.started.done():
            self.started.set_result(False)
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def tail(self) -> AsyncIterator[bytes]:
        """Every event, from the first, until the stream ends. Counted in ``tails`` (see
        ``joined``) while it runs; the last tail to go stops a reader still running."""
        i = 0
        try:
            while True:
                while i < len(self.events):
                    yield self.events[i]
                    i += 1
                if self.ended:
                    if self.failure is not None:  # the client sees a broken stream, not an end
                        raise UpstreamBrokeOff("upstream's stream broke off") from self.failure
                    return
                await self._changed.wait()
        finally:
            self.tails -= 1
            if self.tails == 0 and not self.ended and self.reader is not None:
                self.reader.cancel()  # every client left: stop reading, store nothing

    def joined(self, headers: dict[str, str]) -> RelayResponse:
        """A response that streams this stream to one more client."""
        self.tails += 1
        return RelayResponse(self.tail(), media_type="text/event-stream", headers=headers)


async def stream_flight(gw: Gateway, call: Call, request: Request) -> tuple[Response, str]:
    """A streamed miss: joins the identical stream under way in this worker, or leads one."""
    slot = None
    if call.key is not None and call.ctl.read and call.ctl.write:
        slot = (call.ctl.namespace, call.key)
    if slot is not None:
        live = gw.live.get(slot)
        if live is not None:
            if await asyncio.shield(live.started):
                return live.joined(gw.outcome_headers(call, "miss")), "miss"
            hit = await gw.lookup(call)  # that stream never started: an answer stored meanwhile?
            if hit is not None:
                return gw.hit_response(call, hit), hit.source
            if slot in gw.live:  # another request leads a new one
                return await stream_flight(gw, call, request)
    live = LiveStream()
    if slot is not None:
        gw.live[slot] = live
    lead: Any = None
    try:
        lead, hit = await lead_stream(gw, call)
        if hit is not None:
            return gw.hit_response(call, hit), hit.source
        response = await _start(gw, call, request, live, lead, slot)
        if live.reader is not None:
            lead = None  # the reader ends it
        return response, "miss" if live.reader is not None else "error"
    finally:
        if live.reader is None:  # never started: those about to join go on as if alone
            live.end()
            if slot is not None and gw.live.get(slot) is live:
                del gw.live[slot]
            if lead is not None:
                await asyncio.to_thread(lead.end)


async def _start(
    gw: Gateway, call: Call, request: Request, live: LiveStream, lead: Any, slot: tuple[str, str] | None
) -> Response:
    """Calls upstream; on a 200 starts the reader and answers as the first tail, else answers
    with upstream's error (nothing started)."""
    body = call.upstream_body
    recording = call.key is not None and call.ctl.write
    if call.kind.usage_option and not _usage_asked(body) and recording:
        # ask for usage so the stored answer knows what it cost; the client does not see it
        body = {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
    started_at = time.perf_counter()
    try:
        resp = await gw.client().send(
            call.route, call.kind.path, orjson.dumps(body), request.headers, stream=True, model=call.body["model"]
        )
    except UpstreamError as exc:
        gw.metrics.upstream_error(exc.status)
        raise ProxyError(exc.status, str(exc), "upstream_error", provider=call.kind.provider) from None
    if resp.status_code != 200:
        content = await resp.aread()
        await resp.aclose()
        gw.metrics.upstream_error(resp.status_code)
        ctype = resp.headers.get("content-type", "application/json")
        return Response(
            content, status_code=resp.status_code, headers=gw.outcome_headers(call, "miss"), media_type=ctype
        )
    assembler = call.kind.sdk_endpoint().assembler(call.body) if recording else None
    reader = asyncio.create_task(_read(gw, call, resp, live, assembler, lead, started_at, slot))
    gw.readers.add(reader)  # the loop keeps only a weak reference to a task
    reader.add_done_callback(gw.readers.discard)
    response = live.joined(gw.outcome_headers(call, "miss"))
    live.start(reader)
    return response


async def _read(
    gw: Gateway,
    call: Call,
    resp: Any,
    live: LiveStream,
    assembler: Any,
    lead: Any,
    started_at: float,
    slot: tuple[str, str] | None,
) -> None:
    """Relays upstream's events into ``live``; stores the answer of a stream that ran to its end,
    then ends the flight (waiters in other workers find the entry, or lead themselves)."""
    complete, failure = False, None
    try:
        async for raw, data in _sse.events(resp.aiter_bytes()):
            visible = True
            if assembler is not None and data is not None and data != "[DONE]":
                doc = _sse.parse(data)
                try:
                    visible = assembler.add(_sse.Doc(doc)) if doc is not None else True
                except Exception as exc:  # noqa: BLE001 - only costs the cache entry
                    log.warning("dejacache serve: stream event not understood, not stored: %r", exc)
                    assembler = None
            if visible:
                live.push(raw)
            if lead is not None:
                lead.step()
        complete = True
    except Exception as exc:  # noqa: BLE001 - upstream broke off: so do the tails
        log.warning("dejacache serve: upstream stream failed midway: %r", exc)
        failure = exc
    finally:
        try:
            await resp.aclose()
        finally:
            live.end(failure)  # the tails have every event: they finish while the answer is stored
            if slot is not None and gw.live.get(slot) is live:
                del gw.live[slot]
            if not complete and lead is not None:
                await asyncio.to_thread(lead.end)  # cancelled or failed: waiters go on now
    if not complete:
        return
    if assembler is not None:
        try:
            answer = assembler.result()
        except Exception as exc:  # noqa: BLE001
            log.warning("dejacache serve: streamed answer not assembled: %r", exc)
            answer = None
        if answer is not None:
            try:
                await gw.store(call, answer, time.perf_counter() - started_at)
            except Exception as exc:  # noqa: BLE001 - the clients have their answer; only the entry is lost
                log.warning("dejacache serve: streamed answer not stored: %r", exc)
    if lead is not None:  # after the store: waiters find the entry, or lead themselves
        await asyncio.to_thread(lead.end)


class RelayResponse(StreamingResponse):
    """A stream that stops (its generator closed) as soon as the client goes away, whatever ASGI
    spec version the server speaks: the disconnect is always awaited beside the stream, never
    inferred from a failed send (which some servers make silent)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import anyio

        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:  # close the events' generator now (a tail leaving), not when it is collected
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()


def _usage_asked(body: dict) -> bool:
    opts = body.get("stream_options")
    return isinstance(opts, dict) and bool(opts.get("include_usage"))
