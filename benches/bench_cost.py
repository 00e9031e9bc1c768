"""completion_cost per call: dejacache against LiteLLM's completion_cost, same usage, same run.

    python benches/bench_cost.py [--seconds 0.5]

Measures the median of repeated timing rounds for each case and prints the ratio to LiteLLM.
LiteLLM is optional (``pip install litellm``); it reads its bundled price map, not the network.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import

import dejacache  # noqa: E402

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 100,
    "total_tokens": 1300,
    "prompt_tokens_details": {"cached_tokens": 1000},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
ANTHROPIC_USAGE = {
    "input_tokens": 200,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 3000,
    "cache_creation": {"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 600},
    "output_tokens": 100,
}
CHAT = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
    "usage": OPENAI_USAGE,
}


def per_call_us(fn, seconds: float) -> float:
    """Median microseconds per call over rounds of a calibrated loop."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start > 0.02:
            break
        n *= 2
    rounds = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rounds) < 5:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(rounds)


def cases():
    yield "dict response (OpenAI)", lambda: dejacache.completion_cost(CHAT)
    yield "usage dict + model=", lambda: dejacache.completion_cost(OPENAI_USAGE, model="gpt-4o")
    deepseek = {"model": "deepseek-v4-flash", "created": 1_795_000_000, "usage": OPENAI_USAGE}
    yield "DeepSeek off-peak hours (time of call)", lambda: dejacache.completion_cost(deepseek)
    try:
        from openai.types.chat import ChatCompletion
    except ImportError:
        pass
    else:
        sdk_chat = ChatCompletion.model_validate(CHAT)
        yield "openai SDK ChatCompletion", lambda: dejacache.completion_cost(sdk_chat)
    try:
        from anthropic.types import Message
    except ImportError:
        pass
    else:
        msg = Message.model_validate(
            {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": ANTHROPIC_USAGE,
            }
        )
        yield "anthropic SDK Message (5m/1h writes)", lambda: dejacache.completion_cost(msg)


def litellm_case():
    try:
        import litellm
    except ImportError:
        return None
    response = litellm.ModelResponse(**CHAT)
    cost = litellm.completion_cost(completion_response=response)
    ours = dejacache.completion_cost(CHAT)
    if abs(cost - ours) > 1e-12:
        print(f"warning: LiteLLM says ${cost:.8f}, dejacache ${ours:.8f}", file=sys.stderr)
    return lambda: litellm.completion_cost(completion_response=response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="timing per case (default 0.5)")
    args = parser.parse_args()
    dejacache.completion_cost(CHAT)  # loads the price table once, outside the timing

    peer = litellm_case()
    peer_us = per_call_us(peer, args.seconds) if peer is not None else None
    print(f"{'case':40s} {'us/call':>9s} {'vs LiteLLM':>11s}")
    for name, fn in cases():
        us = per_call_us(fn, args.seconds)
        ratio = f"{peer_us / us:9.0f}x" if peer_us else "       n/a"
        print(f"{name:40s} {us:9.2f} {ratio}")
    if peer_us is not None:
        print(f"{'LiteLLM completion_cost (ModelResponse)':40s} {peer_us:9.2f}")
    else:
        print("LiteLLM not installed: pip install litellm for the comparison")


if __name__ == "__main__":
    main()
