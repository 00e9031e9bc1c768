"""Hits through the SDK helpers of wrapped clients against the same helpers of unwrapped clients.

Run on a release build (``maturin develop --release``):

    python benches/bench_wrap_helpers.py [--calls 500] [--words 50]

Helpers: OpenAI ``chat.completions.parse()`` (pydantic ``response_format``) and
``chat.completions.stream()`` read to ``get_final_completion()``, ``responses.parse()``
(pydantic ``text_format``), ``responses.stream()`` read to ``get_final_response()``, Anthropic
``messages.stream()`` read to ``get_final_text()``; and the raw-response methods
``chat.completions.with_raw_response.create()`` / ``messages.with_raw_response.create()``, each
followed by ``.parse()`` and a header read (what LangChain does). Every client talks to the fake provider on 127.0.0.1
(tests/fake_provider.py), so "unwrapped" is the SDK's helper over a loopback HTTP round trip:
the floor of any real provider call. Figures are medians per call, ratios from the same run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import anthropic  # noqa: E402
import dejacache  # noqa: E402
import openai  # noqa: E402
import pydantic  # noqa: E402
from bench_wrap import median_us  # noqa: E402 - the same timing as the other wrapper bench
from fake_provider import start  # noqa: E402


class Answer(pydantic.BaseModel):
    text: str
    serial: int


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--words", type=int, default=50, help="words in the answer (one live chunk each)")
    args = parser.parse_args()

    server = start()
    msgs = [{"role": "user", "content": " ".join(f"w{i}" for i in range(args.words))}]
    cache = dejacache.Cache()
    oai = openai.OpenAI(api_key="sk-bench", base_url=server.url + "/v1", max_retries=0)
    ant = anthropic.Anthropic(api_key="sk-bench", base_url=server.url, max_retries=0)
    w_oai, w_ant = dejacache.wrap(oai, cache), dejacache.wrap(ant, cache)

    def parse(client):
        return lambda: client.chat.completions.parse(model="gpt-4o", messages=msgs, response_format=Answer)

    def chat_stream(client):
        def run():
            with client.chat.completions.stream(model="gpt-4o", messages=msgs) as s:
                return s.get_final_completion()

        return run

    def messages_stream(client):
        def run():
            with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=msgs) as s:
                return s.get_final_text()

        return run

    def responses_parse(client):
        return lambda: client.responses.parse(model="gpt-4o", input=msgs[0]["content"], text_format=Answer)

    def responses_stream(client):
        def run():
            with client.responses.stream(model="gpt-4o", input=msgs[0]["content"]) as s:
                return s.get_final_response()

        return run

    def raw_chat(client):
        def run():
            r = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=msgs)
            return r.headers.get("content-type"), r.parse()

        return run

    def raw_messages(client):
        def run():
            r = client.messages.with_raw_response.create(model="claude-sonnet-4-6", max_tokens=100, messages=msgs)
            return r.headers.get("content-type"), r.parse()

        return run

    rows = []
    for name, make, raw, wrapped in (
        ("chat.completions.parse()", parse, oai, w_oai),
        ("chat.completions.stream()", chat_stream, oai, w_oai),
        ("responses.parse()", responses_parse, oai, w_oai),
        ("responses.stream()", responses_stream, oai, w_oai),
        ("messages.stream()", messages_stream, ant, w_ant),
        ("chat with_raw_response", raw_chat, oai, w_oai),
        ("messages with_raw_response", raw_messages, ant, w_ant),
    ):
        unwrapped = median_us(make(raw), max(20, args.calls // 10))
        make(wrapped)()  # the miss that fills the cache
        hit = median_us(make(wrapped), args.calls)
        rows.append((name, hit, unwrapped))
    server.shutdown()

    print(
        f"dejacache {dejacache.__version__}, openai {openai.__version__}, anthropic {anthropic.__version__}, "
        f"Python {sys.version.split()[0]}; answers of {args.words} words, median per call:"
    )
    for name, hit, unwrapped in rows:
        print(
            f"  {name:27s} wrapped hit {hit:8.1f} us   unwrapped SDK, loopback {unwrapped:8.1f} us"
            f"   ratio {unwrapped / hit:5.1f}x"
        )


if __name__ == "__main__":
    main()
