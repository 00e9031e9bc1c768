"""Streams handed to callers: replays of cached answers, and live streams that record.

Both subclass the SDK's own ``Stream`` / ``AsyncStream`` (built per SDK by ``stream_classes``),
so ``isinstance`` checks, ``with`` / ``async with`` blocks and type hints keep working.

A recording stream stores its answer only when the provider's stream ran to its end and the
assembler saw a complete answer. Breaking out, ``close()``, garbage collection, or an error
from the provider leave the cache untouched.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

log = logging.getLogger("dejacache")


class Assembler:
    """Adds up one stream's chunks into the answer a non-streamed call would have returned."""

    def add(self, chunk: Any) -> bool:
        """Takes one chunk; returns whether the caller should see it."""
        raise NotImplementedError

    def result(self) -> dict | None:
        """The assembled answer, or None when the stream did not deliver a complete one."""
        raise NotImplementedError


def _safe_add(assembler: Assembler | None, chunk: Any) -> tuple[Assembler | None, bool]:
    # A chunk we do not understand must never break the caller's stream: stop recording instead.
    try:
        return assembler, assembler.add(chunk)
    except Exception as exc:  # noqa: BLE001 - any failure here only costs the cache entry
        log.warning("dejacache: stream chunk not understood, this answer will not be stored: %r", exc)
        return None, True


def _safe_finish(assembler: Assembler | None, store: Callable[[dict], None]) -> None:
    if assembler is None:
        return
    try:
        answer = assembler.result()
    except Exception as exc:  # noqa: BLE001
        log.warning("dejacache: streamed answer not assembled, not stored: %r", exc)
        return
    if answer is None:
        log.debug("dejacache: stream ended without a complete answer; nothing stored")
        return
    store(answer)


def empty_http_response() -> Any:
    """A stand-in for the HTTP response a replayed stream never had (status 200, no body)."""
    try:
        import httpx2 as http  # what current SDKs use
    except ImportError:
        import httpx as http
    return http.Response(200, headers={"x-dejacache": "hit"})


def stream_classes(Stream: type, AsyncStream: type, http_response: Callable[[], Any]) -> Any:
    """Replay and recording stream classes for one SDK, as attributes of one namespace object."""

    class Replay(Stream):  # type: ignore[misc, valid-type]
        """A cached answer, played back chunk by chunk as the SDK's own types."""

        cache = True

        def __init__(self, events: list[dict], build: Callable[[dict], Any]):
            self._events = events
            self._build = build
            self._pos = 0
            self._http = None

        def __next__(self) -> Any:
            pos = self._pos
            if pos >= len(self._events):
                raise StopIteration
            self._pos = pos + 1
            event = self._events[pos]
            event["cache"] = True
            return self._build(event)

        def __iter__(self) -> Any:
            return self

        def close(self) -> None:
            self._pos = len(self._events)

        @property
        def response(self) -> Any:  # what the SDK's streams expose; a hit had no HTTP exchange
            if self._http is None:
                self._http = http_response()
            return self._http

    class AsyncReplay(AsyncStream):  # type: ignore[misc, valid-type]
        """``Replay`` for ``async for``."""

        cache = True

        def __init__(self, events: list[dict], build: Callable[[dict], Any]):
            self._events = events
            self._build = build
            self._pos = 0
            self._http = None

        async def __anext__(self) -> Any:
            pos = self._pos
            if pos >= len(self._events):
                raise StopAsyncIteration
            self._pos = pos + 1
            event = self._events[pos]
            event["cache"] = True
            return self._build(event)

        def __aiter__(self) -> Any:
            return self

        async def close(self) -> None:
            self._pos = len(self._events)

        @property
        def response(self) -> Any:
            if self._http is None:
                self._http = http_response()
            return self._http

    class Recording(Stream):  # type: ignore[misc, valid-type]
        """The provider's live stream, passed through chunk by chunk while it is recorded."""

        cache = False

        def __init__(self, upstream: Any, assembler: Assembler, store: Callable[[dict], None]):
            self._upstream = upstream
            self._assembler: Assembler | None = assembler
            self._store = store
            self.response = upstream.response

        def __next__(self) -> Any:
            while True:
                try:
                    chunk = self._upstream.__next__()
                except StopIteration:
                    assembler, self._assembler = self._assembler, None
                    _safe_finish(assembler, self._store)
                    raise
                except BaseException:
                    self._assembler = None
                    raise
                if self._assembler is None:
                    return chunk
                self._assembler, show = _safe_add(self._assembler, chunk)
                if show:
                    return chunk

        def __iter__(self) -> Any:
            return self

        def close(self) -> None:
            self._assembler = None
            self._upstream.close()

    class AsyncRecording(AsyncStream):  # type: ignore[misc, valid-type]
        """``Recording`` for ``async for``."""

        cache = False

        def __init__(self, upstream: Any, assembler: Assembler, store: Callable[[dict], None]):
            self._upstream = upstream
            self._assembler: Assembler | None = assembler
            self._store = store
            self.response = upstream.response

        async def __anext__(self) -> Any:
            while True:
                try:
                    chunk = await self._upstream.__anext__()
                except StopAsyncIteration:
                    assembler, self._assembler = self._assembler, None
                    _safe_finish(assembler, self._store)
                    raise
                except BaseException:
                    self._assembler = None
                    raise
                if self._assembler is None:
                    return chunk
                self._assembler, show = _safe_add(self._assembler, chunk)
                if show:
                    return chunk

        def __aiter__(self) -> Any:
            return self

        async def close(self) -> None:
            self._assembler = None
            await self._upstream.close()

    class Classes:
        pass

    for cls, name in ((Replay, "ReplayStream"), (AsyncReplay, "AsyncReplayStream"),
                      (Recording, "RecordingStream"), (AsyncRecording, "AsyncRecordingStream")):
        cls.__name__ = cls.__qualname__ = name

    Classes.Replay, Classes.AsyncReplay = Replay, AsyncReplay
    Classes.Recording, Classes.AsyncRecording = Recording, AsyncRecording
    return Classes
