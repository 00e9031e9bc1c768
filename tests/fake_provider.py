"""A fake LLM provider: a real HTTP server on 127.0.0.1 speaking OpenAI's and Anthropic's JSON
and server-sent-event formats, counting what it receives.

Behaviour is picked by the request's model name:
  error-400 / error-401 / error-429 / error-500   answer with that status and the provider's error JSON
  slow                                            answer after ``server.delay`` seconds
  slow-error-500 (or another status)              that error, after ``server.delay`` seconds
  stream-error                                    stream two chunks, then an error event
  stream-drop                                     stream two chunks, then cut the connection
  stream-gated                                    stream one chunk, wait for ``server.gate``, stream the rest
  stream-gated-error                              both: one chunk, the gate, two more, the error event
  stream-slow                                     stream, waiting ``server.event_delay`` seconds before each event
  anything else                                   a normal answer: "answer #N to <last user text>"
A request for a JSON schema answer gets {"text": <the normal answer>, "serial": N} as its text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _words(text: str) -> list[str]:
    """``text`` in word-sized pieces that join back to exactly ``text``."""
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]


def _last_user_text(body: dict) -> str:
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            return " ".join(b.get("text", "") for b in content or [] if isinstance(b, dict))
    inp = body.get("input") if "input" in body else body.get("prompt")
    if isinstance(inp, str):
        return inp
    if isinstance(inp, list):
        return " ".join(
            i.get("content", "") if isinstance(i, dict) else str(i) for i in inp if isinstance(i, (dict, str))
        )
    return ""


def _structured(body: dict, answer: str, serial: int) -> str:
    """A JSON answer when the request asks for a JSON schema (OpenAI ``response_format``, OpenAI
    Responses ``text.format``, Anthropic ``output_config.format``), else ``answer`` as it is."""
    fmt = (
        body.get("response_format")
        or (body.get("output_config") or {}).get("format")
        or (body.get("text") or {}).get("format")
        or {}
    )
    if fmt.get("type") == "json_schema":
        return json.dumps({"text": answer, "serial": serial})
    return answer


def embedding_of(item: Any, dims: int = 8) -> list[float]:
    """The fake's deterministic embedding of one input (tests compare against it)."""
    digest = hashlib.sha256(json.dumps(item).encode()).digest()
    return [round((b - 128) / 128, 4) for b in digest[:dims]]


class FakeProvider(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, dict, dict]] = []
        self.lock = threading.Lock()
        self.delay = 0.3
        self.event_delay = 0.05
        self.gate = threading.Event()
        self.serial = 0
        self.streams_finished = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that stopped reading a stream halfway: what some tests do on purpose
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def total(self) -> int:
        with self.lock:
            return sum(self.counts.values())

    def next_serial(self) -> int:
        with self.lock:
            self.serial += 1
            return self.serial


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeProvider
    # One buffered write per response and no Nagle delay: without these, loopback round trips
    # cost ~40 ms of delayed-ACK waiting instead of what HTTP itself costs.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing ---------------------------------------------------------------------------

    def _json(self, status: int, doc: dict) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _send(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        with self.server.lock:
            self.server.streams_finished += 1

    def _drop(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(2)

    def _error(self, status: int, anthropic: bool) -> None:
        if anthropic:
            doc = {"type": "error", "error": {"type": "api_error", "message": f"fake error {status}"}}
        else:
            doc = {"error": {"message": f"fake error {status}", "type": "server_error", "code": str(status)}}
        self._json(status, doc)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?")[0]
        with self.server.lock:
            self.server.counts[path] += 1
            self.server.requests.append((path, {k.lower(): v for k, v in self.headers.items()}, body))
        model = str(body.get("model", ""))
        anthropic = path.endswith("/messages")
        if model.startswith("slow"):
            time.sleep(self.server.delay)
        if model.startswith(("error-", "slow-error-")):
            self._error(int(model.split("-")[-1]), anthropic)
            return
        serial = self.server.next_serial()
        routes = {
            "/v1/chat/completions": self._chat,
            "/v1/completions": self._completion,
            "/v1/embeddings": self._embeddings,
            "/v1/responses": self._responses,
            "/v1/messages": self._messages,
        }
        handler = routes.get(path)
        if handler is None:
            self._json(404, {"error": {"message": f"no route {path}"}})
            return
        handler(body, serial, model)

    def _stream(self, events: list[str], model: str) -> None:
        """Sends SSE events, misbehaving as the model name asks."""
        self._start_stream()
        if model in ("stream-gated", "stream-gated-error"):
            self._send(events[0])
            if not self.server.gate.wait(5):
                self._drop()
                return
            events = events[1:]
        pause = self.server.event_delay if model == "stream-slow" else 0.0
        for n, event in enumerate(events):
            if pause:
                time.sleep(pause)
            if n == 2 and model == "stream-drop":
                self._drop()
                return
            if n == 2 and model in ("stream-error", "stream-gated-error"):
                anthropic = self.path.startswith("/v1/messages")
                self._send(self.anthropic_error_event if anthropic else self.error_event)
                self._end_stream()
                return
            self._send(event)
        self._end_stream()

    # -- OpenAI -----------------------------------------------------------------------------

    error_event = 'data: {"error": {"message": "fake failure mid-stream", "type": "server_error"}}\n\n'
    anthropic_error_event = (
        'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )

    @staticmethod
    def _usage(prompt: str, completion: str) -> dict:
        p, c = len(prompt.split()) + 5, len(completion.split())
        return {
            "prompt_tokens": p,
            "completion_tokens": c,
            "total_tokens": p + c,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def _chat(self, body: dict, serial: int, model: str) -> None:
        text = _last_user_text(body)
        answer = _structured(body, f"answer #{serial} to {text}", serial)
        base = {
            "id": f"chatcmpl-{serial}",
            "created": 1_700_000_000 + serial,
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        tool_call = None
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            tool_call = {
                "id": f"call_{serial}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps({"q": text, "n": serial})},
            }
        usage = self._usage(text, answer)
        if model.startswith("deepseek"):  # DeepSeek reports its prompt cache in its own fields
            usage.pop("prompt_tokens_details")
            usage.update(prompt_cache_hit_tokens=4, prompt_cache_miss_tokens=usage["prompt_tokens"] - 4)
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None if tool_call else answer, "refusal": None}
            if tool_call:
                message["tool_calls"] = [tool_call]
            self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": None,
                            "finish_reason": "tool_calls" if tool_call else "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        base["object"] = "chat.completion.chunk"
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict, finish: str | None = None) -> str:
            doc = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if include_usage:
                doc["usage"] = None
            return f"data: {json.dumps(doc)}\n\n"

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        if tool_call:
            head = {
                "index": 0,
                "id": tool_call["id"],
                "type": "function",
                "function": {"name": tool_call["function"]["name"], "arguments": ""},
            }
            events.append(chunk({"tool_calls": [head]}))
            args = tool_call["function"]["arguments"]
            for i in range(0, len(args), 7):
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[i : i + 7]}}]}))
            events.append(chunk({}, "tool_calls"))
        else:
            events += [chunk({"content": w}) for w in _words(answer)]
            events.append(chunk({}, "stop"))
        if include_usage:
            events.append(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n")
        events.append("data: [DONE]\n\n")
        self._stream(events, model)

    def _completion(self, body: dict, serial: int, model: str) -> None:
        prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else json.dumps(body.get("prompt"))
        answer = f"answer #{serial} to {prompt}"
        base = {"id": f"cmpl-{serial}", "object": "text_completion", "created": 1_700_000_000 + serial, "model": model}
        usage = self._usage(prompt, answer)
        if not body.get("stream"):
            self._json(
                200,
                {
                    **base,
                    "choices": [{"index": 0, "text": answer, "logprobs": None, "finish_reason": "stop"}],
                    "usage": usage,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = [
            f"data: {json.dumps({**base, 'choices': [{'index': 0, 'text': w, 'logprobs': None, 'finish_reason': None}]})}\n\n"
            for w in _words(answer)
        ]
        events.append(
            f"data: {json.dumps({**base, 'choices': [{'index': 0, 'text': '', 'logprobs': None, 'finish_reason': 'stop'}]})}\n\n"
        )
        if include_usage:
            events.append(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n")
        events.append("data: [DONE]\n\n")
        self._stream(events, model)

    def _embeddings(self, body: dict, serial: int, model: str) -> None:
        inp = body["input"]
        items = [inp] if isinstance(inp, str) or (inp and isinstance(inp[0], int)) else inp
        dims = body.get("dimensions") or 8
        data = []
        for i, item in enumerate(items):
            vec = embedding_of(item, dims)
            if body.get("encoding_format") == "base64":
                value: Any = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
            else:
                value = vec
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = sum(len(str(item).split()) for item in items)
        self._json(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _responses(self, body: dict, serial: int, model: str) -> None:
        text = _last_user_text(body)
        answer = _structured(body, f"answer #{serial} to {text}", serial)
        msg_id = f"msg_{serial}"
        part = {"type": "output_text", "text": answer, "annotations": [], "logprobs": []}
        item = {"type": "message", "id": msg_id, "status": "completed", "role": "assistant", "content": [part]}
        usage = {
            "input_tokens": len(text.split()) + 5,
            "output_tokens": len(answer.split()),
            "total_tokens": len(text.split()) + 5 + len(answer.split()),
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        response = {
            "id": f"resp_{serial}",
            "object": "response",
            "created_at": 1_700_000_000 + serial,
            "status": "completed",
            "model": model,
            "output": [item],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "temperature": 1.0,
            "top_p": 1.0,
            "usage": usage,
        }
        if not body.get("stream"):
            self._json(200, response)
            return
        seq = iter(range(10_000))

        def ev(kind: str, **fields: Any) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': next(seq), **fields})}\n\n"

        pending = {**response, "status": "in_progress", "output": [], "usage": None}
        events = [
            ev("response.created", response=pending),
            ev("response.in_progress", response=pending),
            ev("response.output_item.added", output_index=0, item={**item, "status": "in_progress", "content": []}),
            ev(
                "response.content_part.added",
                item_id=msg_id,
                output_index=0,
                content_index=0,
                part={**part, "text": ""},
            ),
        ]
        events += [
            ev("response.output_text.delta", item_id=msg_id, output_index=0, content_index=0, delta=w, logprobs=[])
            for w in _words(answer)
        ]
        events += [
            ev("response.output_text.done", item_id=msg_id, output_index=0, content_index=0, text=answer, logprobs=[]),
            ev("response.content_part.done", item_id=msg_id, output_index=0, content_index=0, part=part),
            ev("response.output_item.done", output_index=0, item=item),
            ev("response.completed", response=response),
        ]
        self._stream(events, model)

    # -- Anthropic --------------------------------------------------------------------------

    def _messages(self, body: dict, serial: int, model: str) -> None:
        text = _last_user_text(body)
        answer = _structured(body, f"answer #{serial} to {text}", serial)
        usage = {
            "input_tokens": len(text.split()) + 5,
            "output_tokens": len(answer.split()),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        blocks: list[dict] = [{"type": "text", "text": answer}]
        if body.get("tools"):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{serial}",
                    "name": body["tools"][0]["name"],
                    "input": {"q": text, "n": serial},
                }
            )
        message = {
            "id": f"msg_{serial}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": "tool_use" if body.get("tools") else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            self._json(200, message)
            return

        def ev(kind: str, **fields: Any) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"

        events = [
            ev(
                "message_start",
                message={**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}},
            ),
            'event: ping\ndata: {"type": "ping"}\n\n',
        ]
        for idx, block in enumerate(blocks):
            if block["type"] == "text":
                events.append(ev("content_block_start", index=idx, content_block={"type": "text", "text": ""}))
                events += [
                    ev("content_block_delta", index=idx, delta={"type": "text_delta", "text": w})
                    for w in _words(answer)
                ]
            else:
                events.append(ev("content_block_start", index=idx, content_block={**block, "input": {}}))
                js = json.dumps(block["input"])
                events += [
                    ev(
                        "content_block_delta",
                        index=idx,
                        delta={"type": "input_json_delta", "partial_json": js[i : i + 5]},
                    )
                    for i in range(0, len(js), 5)
                ]
            events.append(ev("content_block_stop", index=idx))
        events.append(
            ev(
                "message_delta",
                delta={"stop_reason": message["stop_reason"], "stop_sequence": None},
                usage={"output_tokens": usage["output_tokens"]},
            )
        )
        events.append(ev("message_stop"))
        self._stream(events, model)


def start() -> FakeProvider:
    server = FakeProvider()
    threading.Thread(target=server.serve_forever, args=(0.02,), name="fake-provider", daemon=True).start()
    return server


try:
    import pytest

    @pytest.fixture(name="provider")
    def provider_fixture():
        """A fresh fake provider per test, shut down afterwards."""
        server = start()
        yield server
        server.gate.set()
        server.shutdown()
        server.server_close()
except ImportError:  # used without pytest (benches)
    pass
