"""Streams handed to callers: replays of cached answers, and live streams that record.

Both subclass the SDK's own ``Stream`` / ``AsyncStream`` (built per SDK by ``stream_classes``),
so ``isinstance`` checks, ``with`` / ``async with`` blocks and type hints keep working.

A recording stream stores its answer only when the provider's stream ran to its end and the
assembler saw a complete answer. Breaking out, ``close()``, garbage collection, or an error
from the provider leave the cache untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dejacache")


class Assembler:
    """Adds up one stream's chunks into the answer a non-streamed call would have returned."""

    def add(self, chunk: Any) -> bool:
        """Takes one chunk; returns whether the caller should see it."""
        raise NotImplementedError

    def result(self) -> dict | None:
        """The assembled answer, or None when the stream did not deliver a complete one."""
        raise NotImplementedError


class _Recorder:
    """The recording half of a live stream: shows chunks, stores the answer only at a clean end.

    ``store(answer)`` is called exactly once: with the assembled answer, or with None when the
    stream failed, was abandoned or collected (identical calls waiting for it then make their
    own; from a finalizer it is ``store(None, collected=True)``). ``store.step()`` marks
    progress, which tells waiters the stream is still being read.
    A chunk we do not understand must never break the caller's stream: recording stops
    instead, and the answer is not stored.

    An async stream (``is_async``) does no store I/O on its event loop: its answer is stored
    with ``await store.asettle(answer)``, and an abandoned stream lets its waiters go with
    ``store.settle_soon()`` (which returns at once: a cancelled task cannot wait).
    """

    __slots__ = ("assembler", "store", "is_async")

    def __init__(self, assembler: Assembler, store: Any, is_async: bool = False):
        self.assembler: Assembler | None = assembler
        self.store = store
        self.is_async = is_async

    def show(self, chunk: Any) -> bool:
        if self.assembler is None:
            return True
        try:
            visible = self.assembler.add(chunk)
        except Exception as exc:  # noqa: BLE001 - any failure here only costs the cache entry
            log.warning("dejacache: stream chunk not understood, this answer will not be stored: %r", exc)
            self.abandon()
            return True
        self.store.step()
        return visible

    def abandon(self) -> None:
        self.assembler = None
        store, self.store = self.store, None
        if store is not None:
            if self.is_async:
                store.settle_soon()
            else:
                store(None)

    def end(self) -> None:
        store, self.store = self.store, None
        answer = self._answer()
        if store is not None:
            store(answer)

    async def aend(self) -> None:
        store, self.store = self.store, None
        answer = self._answer()
        if store is not None:
            await store.asettle(answer)

    def _answer(self) -> dict | None:
        assembler, self.assembler = self.assembler, None
        if assembler is None:
            return None
        answer = None
        try:
            answer = assembler.result()
        except Exception as exc:  # noqa: BLE001
            log.warning("dejacache: streamed answer not assembled, not stored: %r", exc)
        if answer is None:
            log.debug("dejacache: stream ended without a complete answer; nothing stored")
        return answer

    def _collected(self) -> None:
        store, self.store = self.store, None
        if store is not None:
            store(None, collected=True)

    def __del__(self) -> None:  # a stream dropped unread must not keep identical calls waiting
        try:
            self._collected()
        except Exception:  # noqa: BLE001 - nothing to report to at collection time
            pass


class _Replayer:
    """The shared state of sync and async replays: the events left and how to build them."""

    cache = True

    def __init__(
        self, events: list[dict], build: Callable[[dict], Any], http_response: Callable[[str], Any], source: str
    ):
        self._events = events
        self._build = build
        self._pos = 0
        self._http_response = http_response
        self._source = source
        self._http: Any = None

    def _take(self) -> Any:
        """The next event as an SDK object, or None at the end."""
        pos = self._pos
        if pos >= len(self._events):
            return None
        self._pos = pos + 1
        event = self._events[pos]
        event["cache"] = True
        return self._build(event)

    def _finish(self) -> None:
        self._pos = len(self._events)

    @property
    def response(self) -> Any:  # what the SDK's streams expose; a hit had no HTTP exchange
        if self._http is None:
            self._http = self._http_response(self._source)
        return self._http


def empty_http_response(source: str = "exact") -> Any:
    """A stand-in for the HTTP response a replayed stream never had (status 200, no body); its
    ``x-dejacache`` header names the tier that answered (``exact`` or ``semantic``), as the
    proxy's does."""
    http: Any
    try:
        import httpx2 as http  # what current SDKs use
    except ImportError:
        import httpx as http
    return http.Response(200, headers={"x-dejacache": source})


def stream_classes(Stream: type, AsyncStream: type, http_response: Callable[[str], Any]) -> Any:
    """Replay and recording stream classes for one SDK, as attributes of one namespace object."""

    class Replay(_Replayer, Stream):
        """A cached answer, played back chunk by chunk as the SDK's own types."""

        def __init__(self, events: list[dict], build: Callable[[dict], Any], source: str = "exact"):
            _Replayer.__init__(self, events, build, http_response, source)

        def __next__(self) -> Any:
            event = self._take()
            if event is None:
                raise StopIteration
            return event

        def __iter__(self) -> Any:
            return self

        def close(self) -> None:
            self._finish()

    class AsyncReplay(_Replayer, AsyncStream):
        """``Replay`` for ``async for``."""

        def __init__(self, events: list[dict], build: Callable[[dict], Any], source: str = "exact"):
            _Replayer.__init__(self, events, build, http_response, source)

        async def __anext__(self) -> Any:
            event = self._take()
            if event is None:
                raise StopAsyncIteration
            return event

        def __aiter__(self) -> Any:
            return self

        async def close(self) -> None:
            self._finish()

    class Recording(Stream):
        """The provider's live stream, passed through chunk by chunk while it is recorded."""

        cache = False

        def __init__(self, upstream: Any, assembler: Assembler, store: Any):
            self._upstream = upstream
            self._recorder = _Recorder(assembler, store)
            self.response = upstream.response

        def __next__(self) -> Any:
            while True:
                try:
                    chunk = self._upstream.__next__()
                except StopIteration:
                    self._recorder.end()
                    raise
                except BaseException:
                    self._recorder.abandon()
                    raise
                if self._recorder.show(chunk):
                    return chunk

        def __iter__(self) -> Any:
            return self

        def close(self) -> None:
            self._recorder.abandon()
            self._upstream.close()

    class AsyncRecording(AsyncStream):
        """``Recording`` for ``async for``."""

        cache = False

        def __init__(self, upstream: Any, assembler: Assembler, store: Any):
            self._upstream = upstream
            self._recorder = _Recorder(assembler, store, is_async=True)
            self.response = upstream.response

        async def __anext__(self) -> Any:
            while True:
                try:
                    chunk = await self._upstream.__anext__()
                except StopAsyncIteration:
                    await self._recorder.aend()
                    raise
                except BaseException:
                    self._recorder.abandon()
                    raise
                if self._recorder.show(chunk):
                    return chunk

        def __aiter__(self) -> Any:
            return self

        async def close(self) -> None:
            self._recorder.abandon()
            await self._upstream.close()

    class Classes:
        Replay: type
        AsyncReplay: type
        Recording: type
        AsyncRecording: type

    for cls, name in (
        (Replay, "ReplayStream"),
        (AsyncReplay, "AsyncReplayStream"),
        (Recording, "RecordingStream"),
        (AsyncRecording, "AsyncRecordingStream"),
    ):
        cls.__name__ = cls.__qualname__ = name

    Classes.Replay, Classes.AsyncReplay = Replay, AsyncReplay
    Classes.Recording, Classes.AsyncRecording = Recording, AsyncRecording
    return Classes
