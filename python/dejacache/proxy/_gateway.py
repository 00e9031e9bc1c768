"""The cached call path of the JSON routes (chat, completions, responses, messages).

One request: its body is keyed like the SDK wrappers key theirs (endpoint, provider and base
URL, the body with the upstream model name), looked up in the cache (exact, then semantic when
configured), and on a miss sent upstream; a successful answer is stored with what it cost.
Upstream errors pass through with their status and body and are never stored. Streams pass
through event by event and are stored only when they ran to their end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .._codec import decode
from .._cost.cost import call_meta
from .._protocols import CacheLike
from . import _sse
from ._calls import Call
from ._costs import add_cached_tokens, hit_headers, miss_headers
from ._errors import ProxyError
from ._streamed import LiveStream, stream_flight
from ._upstream import UpstreamError

log = logging.getLogger("dejacache.proxy")
T = TypeVar("T")


class Gateway:
    """The proxy's shared state: config, cache, upstream client, metrics, flights."""

    def __init__(self, config: Any, cache: CacheLike, upstream: Any, metrics: Any, keys: Any):
        self.config = config
        self.keys = keys
        self.cache = cache
        self.upstream = upstream
        self.metrics = metrics
        # Reads and writes answered in this process's memory run inline (microseconds); a store
        # on a server or a semantic tier (embedding) runs on a thread, off the event loop.
        self.inline = cache.in_process
        self.flights: dict[tuple[str, str], asyncio.Future] = {}
        # streamed misses under way in this worker, which identical requests join (``_streamed``)
        self.live: dict[tuple[str, str], LiveStream] = {}
        self.readers: set[asyncio.Task] = set()  # their upstream reads, running

    def client(self) -> Any:
        """The upstream client, made on first use when the server ran no lifespan."""
        if self.upstream is None:
            from ._upstream import Upstream

            self.upstream = Upstream(self.config.upstream_timeout, self.config.master_key is None)
        return self.upstream

    # -- cache access (embedding runs on a thread) -------------------------------------------

    async def store_io(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, which reads or writes the cache: inline when the cache is in
        this process's memory, else on a worker thread (the event loop never waits on a store)."""
        if self.inline:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def principal(self, token: str | None) -> Any:
        """``keys.principal(token)``, off the event loop when it reads a shared store."""
        keys = self.keys
        if keys.answers_inline(token):
            return keys.principal(token)
        return await asyncio.to_thread(keys.principal, token)

    async def lookup(self, call: Call) -> Any:
        """The hit for ``call`` or None; sets ``call.ctl`` and ``call.key`` (None: not keyable)."""
        cache = self.cache
        try:
            call.ctl = cache.resolve_controls(call.key_doc, call.caching, call.controls, call.namespace)
        except ValueError as exc:
            raise ProxyError(400, str(exc), "invalid_request_error", param="cache") from None
        if call.kind.name not in self.config.cached_routes or not (call.ctl.read or call.ctl.write):
            return None
        kw = {"caching": call.caching, "cache": call.controls, "namespace": call.namespace}
        try:
            if call.ctl.read:
                hit = await self.store_io(cache.get, call.key_doc, **kw)
                if hit is not None:
                    call.key = hit.key
                    return hit
            call.key = cache.key(call.key_doc)
        except (TypeError, ValueError) as exc:
            log.warning("dejacache serve: request not cacheable, forwarded as it is: %s", exc)
        return None

    async def store(self, call: Call, answer: dict, latency: float) -> None:
        if call.key is None or not call.ctl.write:
            return
        if call.kind.name in ("chat", "completions"):
            add_cached_tokens(answer)  # a streamed answer's usage, in the shape hits serve
        meta = call_meta(answer, latency_s=latency)
        cache = self.cache

        def put() -> None:
            try:
                cache.put(
                    call.key_doc, answer, caching=call.caching, cache=call.controls, namespace=call.namespace, meta=meta
                )
            except (TypeError, ValueError) as exc:
                log.warning("dejacache serve: answer not stored: %s", exc)

        await self.store_io(put)

    # -- the call ------------------------------------------------------------------------------

    async def answer(self, call: Call, request: Request) -> tuple[Response, str]:
        """(the response, its outcome: exact, semantic, miss or error)."""
        hit = await self.lookup(call)
        if hit is not None:
            return self.hit_response(call, hit), hit.source
        if call.stream:
            return await stream_flight(self, call, request)
        return await self._miss(call, request)

    def outcome_headers(self, call: Call, outcome: str) -> dict[str, str]:
        out = {"x-dejacache": outcome}
        if call.key is not None:
            out["x-dejacache-key"] = call.key
        return out

    def hit_response(self, call: Call, hit: Any) -> Response:
        headers = self.outcome_headers(call, hit.source)
        headers["x-dejacache-key"] = hit.key
        if hit.similarity is not None:
            headers["x-dejacache-similarity"] = f"{hit.similarity:.4f}"
        headers.update(hit_headers(hit.meta))
        self.metrics.saved(hit.meta)
        if call.stream:
            replay = call.kind.sdk_endpoint().replay(hit.response, call.body, self.config.replay_chunk_chars)
            data = _sse.write(replay, call.kind.named_events, call.kind.done_marker)
            return Response(data, media_type="text/event-stream", headers=headers)
        return Response(orjson.dumps(hit.response), media_type="application/json", headers=headers)

    async def _fetch(self, call: Call, request: Request) -> tuple[int, bytes, str, dict | None, float]:
        """(status, body, content type, parsed answer of a 200 or None, seconds) from upstream."""
        start = time.perf_counter()
        resp = await self.client().send(
            call.route, call.kind.path, orjson.dumps(call.upstream_body), request.headers, model=call.body["model"]
        )
        latency = time.perf_counter() - start
        content = resp.content
        answer = None
        if resp.status_code == 200:
            try:
                doc = orjson.loads(content)
                answer = doc if isinstance(doc, dict) else None
            except orjson.JSONDecodeError:
                answer = None
            if answer is not None and call.kind.name in ("chat", "completions") and add_cached_tokens(answer):
                content = orjson.dumps(answer)
        return resp.status_code, content, resp.headers.get("content-type", "application/json"), answer, latency

    async def _miss(self, call: Call, request: Request) -> tuple[Response, str]:
        slot = None
        if call.key is not None and call.ctl.read:
            slot = (call.ctl.namespace, call.key)
            leader = self.flights.get(slot)
            if leader is not None:  # an identical call is upstream: share its answer
                await asyncio.wait({leader})  # raises only if this request itself is cancelled
                if not leader.cancelled() and leader.exception() is None:
                    status, content, ctype, answer, _ = leader.result()
                    return self._upstream_response(call, status, content, ctype, answer), "miss"
                slot = None  # the leader failed or was cancelled: make a call of our own
        future: asyncio.Future | None = None
        if slot is not None:
            future = asyncio.get_running_loop().create_future()
            self.flights[slot] = future
        try:
            outcome = await self._fetch_across_workers(call, request)
            status, content, ctype, answer, latency = outcome
            if future is not None:
                future.set_result(outcome)
        except BaseException:
            if future is not None:
                future.cancel()  # waiters make their own calls
            raise
        finally:
            if slot is not None and self.flights.get(slot) is future:
                del self.flights[slot]
        if status != 200:
            self.metrics.upstream_error(status)
        return self._upstream_response(call, status, content, ctype, answer), "miss" if status == 200 else "error"

    async def _fetch_and_store(self, call: Call, request: Request) -> tuple[int, bytes, str, dict | None, float]:
        try:
            outcome = await self._fetch(call, request)
        except UpstreamError as exc:
            err = ProxyError(exc.status, str(exc), "upstream_error", provider=call.kind.provider)
            outcome = (exc.status, err.body(), "application/json", None, 0.0)
        if outcome[3] is not None:
            await self.store(call, outcome[3], outcome[4])
        return outcome

    async def _fetch_across_workers(self, call: Call, request: Request) -> tuple[int, bytes, str, dict | None, float]:
        """One upstream call for identical misses in every worker sharing the store (a short
        lock in Redis or SQLite, see ``Cache.shared_flights``): the others take the answer the
        leader stored. Without a shared store, or when the lock cannot be had, a call of its own."""
        shared = self.cache.shared_flights
        if shared is None or call.key is None or not (call.ctl.read and call.ctl.write):
            return await self._fetch_and_store(call, request)
        ctl = call.ctl

        def adopt(blob: bytes) -> tuple[int, bytes, str, dict | None, float] | None:
            try:
                answer, _ = decode(blob)
            except ValueError:
                return None
            if not isinstance(answer, dict):
                return None
            answer.pop("cache", None)
            return 200, orjson.dumps(answer), "application/json", answer, 0.0

        return await shared.arun(
            ctl.namespace, call.key, time.time(), ctl.max_age, lambda: self._fetch_and_store(call, request), adopt
        )

    def _upstream_response(self, call: Call, status: int, content: bytes, ctype: str, answer: Any) -> Response:
        headers = self.outcome_headers(call, "miss")
        if answer is not None:
            headers.update(miss_headers(answer))
        return Response(content, status_code=status, headers=headers, media_type=ctype)
