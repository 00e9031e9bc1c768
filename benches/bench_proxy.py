"""`dejacache serve` under load on loopback, against LiteLLM's proxy with its cache on.

Run on a release build:

    python benches/bench_proxy.py [--requests 2000] [--per-conn 50] [--litellm /path/to/litellm]

Every server talks to the same fake provider on 127.0.0.1 (tests/fake_provider.py). Figures:
requests per second and p50 / p99 latency at concurrency 1 (one keep-alive connection) and 64
(64 connections), for exact hits, semantic hits (hashing embedder: the semantic tier's own cost,
not a model's) and misses; in-process (the ASGI app called directly, no HTTP) and over HTTP
(uvicorn, one worker, a separate process). The load generator is a minimal asyncio HTTP/1.1
client in this process, so the client's own cost is small and the same for every server.

LiteLLM's proxy (``litellm --config``, one worker, ``cache: true`` type local) needs its
``proxy`` extra, which pulls packages (fastapi, ...) that this project's environment does not
have; point ``--litellm`` at a ``litellm`` executable from a separate venv
(``python -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'``).
Without one, the comparison is with a direct call to the fake provider, and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import fake_provider  # noqa: E402
import orjson  # noqa: E402
from dejacache import _core  # noqa: E402
from fake_provider import start  # noqa: E402

# 64 connections arrive at once on a miss storm: the stdlib server's backlog of 5 would refuse them
fake_provider.FakeProvider.request_queue_size = 512

QUESTION = "What is the capital city of France?"
PARAPHRASE = "what is the capital city of france"  # same words: a semantic hit, never an exact one
#: Both proxies check a master key (LiteLLM's refuses to start without one): the same auth work.
MASTER = "sk-" + "5eb63bbbe01eeed093cb22bb8f5acdc3" * 2


def body(text: str, model: str = "gpt-4o-mini") -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": text}]})


# -- a minimal keep-alive HTTP/1.1 client ----------------------------------------------------


class Conn:
    def __init__(self, host: str, port: int, key: str = MASTER):
        self.host, self.port, self.key = host, port, key

    async def open(self) -> Conn:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self

    async def post(self, path: str, payload: bytes) -> tuple[int, dict, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {self.key}\r\ncontent-length: {len(payload)}\r\n\r\n"
        ).encode()
        self.writer.write(head + payload)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            data = b"".join(parts)
        return status, headers, data

    def close(self) -> None:
        self.writer.close()


async def load(host: str, port: int, make: callable, conns: int, per_conn: int, expect: str | None) -> dict:
    """``conns`` connections, each sending ``per_conn`` requests in turn; latencies of all."""
    clients = [await Conn(host, port).open() for _ in range(conns)]
    latencies: list[float] = []
    seen: dict[str, int] = {}

    async def worker(i: int, c: Conn) -> None:
        for j in range(per_conn):
            payload = make(i, j)
            t = time.perf_counter()
            status, headers, _ = await c.post("/v1/chat/completions", payload)
            latencies.append(time.perf_counter() - t)
            if status != 200:
                raise RuntimeError(f"status {status}")
            label = headers.get("x-dejacache", "-")
            seen[label] = seen.get(label, 0) + 1

    start_t = time.perf_counter()
    await asyncio.gather(*(worker(i, c) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - start_t
    for c in clients:
        c.close()
    if expect is not None and set(seen) != {expect}:
        raise RuntimeError(f"expected only {expect!r} answers, got {seen}")
    return summary(latencies, elapsed)


def summary(latencies: list[float], elapsed: float) -> dict:
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
        "n": len(latencies),
    }


# -- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def spawn(cmd: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    wait_up(port, proc)
    return proc


def dejacache_config(folder: str, upstream: str, semantic: bool) -> str:
    path = os.path.join(folder, f"dejacache-{'semantic' if semantic else 'exact'}.yaml")
    cache = "cache:\n  semantic: {embedder: hashing, threshold: 0.9, evaluator: cosine}\n" if semantic else ""
    Path(path).write_text(
        f'model_list:\n  - model_name: "*"\n    litellm_params: {{model: openai/*, api_base: "{upstream}/v1"}}\n'
        f"general_settings: {{master_key: {MASTER}}}\n" + cache
    )
    return path


def litellm_config(folder: str, upstream: str) -> str:
    path = os.path.join(folder, "litellm.yaml")
    Path(path).write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        f'    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{upstream}/v1", api_key: sk-fake}}\n'
        "litellm_settings:\n  cache: true\n  cache_params: {type: local}\n"
        f"general_settings: {{master_key: {MASTER}}}\n"
    )
    return path


# -- in-process ----------------------------------------------------------------------------------


async def in_process(upstream: str, requests: int) -> dict:
    """The ASGI app called directly (no HTTP, no server): the app's own cost per hit."""
    from dejacache.proxy import create_app

    app = create_app(
        {
            "model_list": [{"model_name": "*", "litellm_params": {"model": "openai/*", "api_base": upstream + "/v1"}}],
            "general_settings": {"master_key": MASTER},
        }
    )
    payload = body(QUESTION)

    async def call() -> str:
        sent = []
        delivered = False

        async def receive() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "root_path": "",
            "scheme": "http",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"authorization", b"Bearer " + MASTER.encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "app": app,
        }
        await app(scope, receive, send)
        return dict(sent[0]["headers"]).get(b"x-dejacache", b"").decode()

    assert await call() == "miss"
    latencies = []
    t0 = time.perf_counter()
    for _ in range(requests):
        t = time.perf_counter()
        outcome = await call()
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - t0
    assert outcome == "exact", outcome
    c1 = summary(latencies, elapsed)
    latencies = []

    async def timed() -> None:
        t = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    for _ in range(max(1, requests // 64)):
        await asyncio.gather(*(timed() for _ in range(64)))
    c64 = summary(latencies, time.perf_counter() - t0)
    return {"c1": c1, "c64": c64}


# -- the run -------------------------------------------------------------------------------------


def row(name: str, fig: dict) -> str:
    return f"| {name} | {fig['rps']:,.0f} | {fig['p50_ms']:.3f} | {fig['p99_ms']:.3f} | {fig['n']} |"


async def measure_server(port: int, requests: int, per_conn: int, kinds: list[str]) -> dict:
    out = {}
    host = "127.0.0.1"
    run = time.time_ns()
    if "exact" in kinds:
        c = await Conn(host, port).open()
        await c.post("/v1/chat/completions", body(QUESTION))  # the miss that stores it
        c.close()
        out["exact c1"] = await load(host, port, lambda i, j: body(QUESTION), 1, requests, "exact")
        out["exact c64"] = await load(host, port, lambda i, j: body(QUESTION), 64, per_conn, "exact")
    if "litellm" in kinds:
        c = await Conn(host, port).open()
        await c.post("/v1/chat/completions", body(QUESTION))
        c.close()
        out["exact c1"] = await load(host, port, lambda i, j: body(QUESTION), 1, requests, None)
        out["exact c64"] = await load(host, port, lambda i, j: body(QUESTION), 64, per_conn, None)
    if "semantic" in kinds:
        c = await Conn(host, port).open()
        await c.post("/v1/chat/completions", body(QUESTION))
        c.close()
        out["semantic c1"] = await load(host, port, lambda i, j: body(PARAPHRASE), 1, requests, "semantic")
        out["semantic c64"] = await load(host, port, lambda i, j: body(PARAPHRASE), 64, per_conn, "semantic")
    if "miss" in kinds:
        n = max(50, requests // 10)
        out["miss c1"] = await load(host, port, lambda i, j: body(f"miss {run} {i} {j}"), 1, n, "miss")
        out["miss c64"] = await load(
            host, port, lambda i, j: body(f"miss64 {run} {i} {j}"), 64, max(5, per_conn // 5), "miss"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests at concurrency 1 (default 2000)")
    parser.add_argument("--per-conn", type=int, default=50, help="requests per connection at concurrency 64")
    parser.add_argument("--litellm", default=shutil.which("litellm"), help="a litellm executable with its proxy extra")
    args = parser.parse_args()
    if _core.DEBUG_BUILD:
        print("dejacache is a debug build: reinstall with `pip install .` (release) before benchmarking")
        return 2
    fake = start()
    folder = tempfile.mkdtemp(prefix="bench-proxy-")
    procs: list[subprocess.Popen] = []
    results: dict[str, dict] = {}
    try:
        inproc = asyncio.run(in_process(fake.url, args.requests))
        results["dejacache in-process ASGI"] = {"exact c1": inproc["c1"], "exact c64": inproc["c64"]}
        for semantic in (False, True):
            port = free_port()
            cfg = dejacache_config(folder, fake.url, semantic)
            cmd = [sys.executable, "-m", "dejacache.cli", "serve", "--config", cfg, "--port", str(port)]
            proc = spawn(cmd + ["--log-level", "warning"], port)
            procs.append(proc)
            kinds = ["semantic"] if semantic else ["exact", "miss"]
            results.setdefault("dejacache serve (uvicorn, 1 worker)", {}).update(
                asyncio.run(measure_server(port, args.requests, args.per_conn, kinds))
            )
            proc.terminate()
            proc.wait(20)
        # the provider itself: one call straight to the fake (what every miss pays at least)
        host, port = "127.0.0.1", fake.server_address[1]
        results["fake provider, direct"] = {
            "call c1": asyncio.run(
                load(host, port, lambda i, j: body(f"direct {i} {j}"), 1, max(50, args.requests // 10), None)
            )
        }
        litellm_note = None
        if args.litellm and os.path.exists(args.litellm):
            port = free_port()
            cmd = [
                args.litellm,
                "--config",
                litellm_config(folder, fake.url),
                "--port",
                str(port),
                "--num_workers",
                "1",
            ]
            try:
                proc = spawn(cmd, port, {"LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
                procs.append(proc)
                before = fake.total()
                results["LiteLLM proxy (cache: local)"] = asyncio.run(
                    measure_server(port, args.requests, args.per_conn, ["litellm"])
                )
                calls = fake.total() - before
                if calls > 2:
                    litellm_note = f"LiteLLM's proxy called the provider {calls} times: its cache did not serve"
            except RuntimeError as exc:
                litellm_note = f"LiteLLM's proxy did not run: {exc}"
        else:
            litellm_note = "no litellm executable with its proxy extra (--litellm): compared with the direct call only"
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(20)
        fake.shutdown()
        fake.server_close()
        shutil.rmtree(folder, ignore_errors=True)
    print("| server | case | req/s | p50 ms | p99 ms | n |")
    print("|---|---|---|---|---|---|")
    for server, figs in results.items():
        for case, fig in figs.items():
            print(row(f"{server} | {case}", fig))
    ours = results["dejacache serve (uvicorn, 1 worker)"]
    print()
    peer = results.get("LiteLLM proxy (cache: local)")
    if peer:
        for case in ("exact c1", "exact c64"):
            print(
                f"{case}: dejacache {ours[case]['rps']:,.0f} req/s vs LiteLLM {peer[case]['rps']:,.0f} req/s "
                f"= {ours[case]['rps'] / peer[case]['rps']:.1f}x throughput; p50 {ours[case]['p50_ms']:.3f} ms vs "
                f"{peer[case]['p50_ms']:.3f} ms = {peer[case]['p50_ms'] / ours[case]['p50_ms']:.1f}x"
            )
    direct = results["fake provider, direct"]["call c1"]
    print(
        f"exact hit p50 over HTTP {ours['exact c1']['p50_ms']:.3f} ms vs a direct provider call "
        f"{direct['p50_ms']:.3f} ms = {direct['p50_ms'] / ours['exact c1']['p50_ms']:.1f}x"
    )
    if litellm_note:
        print("note:", litellm_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
