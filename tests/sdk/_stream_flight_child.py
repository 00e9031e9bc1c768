"""A worker process for the cross-process streamed single-flight tests: one streamed call through
a wrapped SDK client on a shared store, started at an agreed wall-clock time; sends one dict per
event through its pipe (``calling`` just before the call, then ``answer``, or ``first`` for a
leader that stops reading mid-stream). The tests fork these processes from their own, which
has imported the SDKs already, so each starts in milliseconds."""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from typing import Any

import anthropic
import dejacache
import openai

QUESTION = "one stream for every process please"


def text_of(chunk: object) -> str:
    choices = getattr(chunk, "choices", None)
    if choices is not None:  # an OpenAI chat chunk
        return "".join(c.delta.content or "" for c in choices)
    if getattr(chunk, "type", None) == "content_block_delta":  # an Anthropic event
        return getattr(chunk.delta, "text", "") or ""  # type: ignore[attr-defined]
    return ""


def main(cfg: dict, out: Any) -> None:
    """One streamed call as ``cfg`` says; a failure is sent as an ``error`` event."""

    lock = threading.Lock()

    def say(**event: object) -> None:
        with lock:
            out.send(event)

    try:
        _call(cfg, say)
    except BaseException:
        say(event="error", error=traceback.format_exc())
        raise


def _call(cfg: dict, say: Any) -> None:
    name, mode, sdk = cfg["name"], cfg["mode"], cfg["sdk"]
    if cfg.get("l1"):  # a memory level in front of the shared store
        cache = dejacache.Cache(max_entries=100, next_cache=dejacache.Cache(store=cfg["store"]))
    else:
        cache = dejacache.Cache(store=cfg["store"])
    assert cache.shared_flights is not None
    cache.shared_flights.lease_s = cfg["lease_s"]
    cache.stream_flights.stall_s = cfg.get("stall_s", 30.0)
    kw: dict = {"model": "stream-slow", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    is_async = "async" in mode
    if sdk == "openai":
        cls = openai.AsyncOpenAI if is_async else openai.OpenAI
        client = dejacache.wrap(cls(api_key="k", base_url=cfg["provider"] + "/v1", max_retries=0), cache)
        create = client.chat.completions.create
    else:
        acls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        client = dejacache.wrap(acls(api_key="k", base_url=cfg["provider"], max_retries=0), cache)
        create = client.messages.create
        kw["max_tokens"] = 100

    def report(text: str, stream: object, started: float) -> None:
        say(
            event="answer",
            name=name,
            text=text,
            cache=bool(getattr(stream, "cache", False)),
            took=time.monotonic() - started,
        )

    copies = cfg.get("copies", 1)  # identical calls at once in this process: threads, or tasks
    time.sleep(max(0.0, cfg["start_at"] - time.time()))
    started = time.monotonic()
    say(event="calling", name=name)
    if is_async:

        async def run() -> None:
            stream = await create(**kw)
            text = ""
            async for chunk in stream:
                text += text_of(chunk)
            report(text, stream, started)

        async def run_all() -> None:
            await asyncio.gather(*(run() for _ in range(copies)))

        asyncio.run(run_all())
        return

    def run_sync() -> None:
        stream = create(**kw)
        text = ""
        for chunk in stream:
            text += text_of(chunk)
            if mode == "hang" and text:  # the leader stops reading mid-stream and stays alive
                say(event="first", name=name, cache=bool(getattr(stream, "cache", False)))
                time.sleep(3600)
        report(text, stream, started)

    threads = [threading.Thread(target=run_sync) for _ in range(copies - 1)]
    for t in threads:
        t.start()
    run_sync()
    for t in threads:
        t.join()
