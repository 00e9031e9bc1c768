"""``dejacache bench --workload semantic``: paraphrased repeats through a semantic cache.

Users ask a set of distinct questions (intents: an ask about a topic), each in several wordings,
with Zipf popularity. Every request goes to ``Cache.get``; a miss calls a simulated LLM whose
answer names the intent, and ``Cache.put`` stores it. A semantic hit is *correct* when the answer
served belongs to the intent asked, so the report gives the precision of semantic hits (wrong
answers served) next to their recall (how many paraphrases of a question already answered were
served from the cache).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from .workload_topics import TOPICS as _TOPICS

#: Each inner list is one kind of question, in several wordings that mean the same.
_ASKS = [
    [
        "Explain {t} to a new engineer.",
        "How would you explain {t} to a junior engineer?",
        "Can you explain {t} to someone who just started as an engineer?",
        "Explain {t} to a beginner engineer, please.",
    ],
    [
        "What are common mistakes in {t}?",
        "Which mistakes do people often make in {t}?",
        "What are the most common mistakes people make with {t}?",
        "What mistakes are common in {t}?",
    ],
    [
        "Give three interview questions about {t}.",
        "Suggest three interview questions on {t}.",
        "What are three good interview questions about {t}?",
        "List three interview questions about {t}.",
    ],
    [
        "Summarise the history of {t}.",
        "Give me a short history of {t}.",
        "Summarize the history of {t}.",
        "What is the history of {t}, briefly?",
    ],
    [
        "How do I get better at {t} in a month?",
        "How can I improve at {t} within one month?",
        "What should I do to get better at {t} in a month?",
        "How to get better at {t} in one month?",
    ],
    [
        "What are the best books about {t}?",
        "Which books about {t} are the best?",
        "Recommend the best books on {t}.",
        "What books on {t} would you recommend most?",
    ],
]

_SYSTEM = "You are a careful assistant for a software company. Answer precisely and briefly."


def make_intents(seed: int) -> list[list[str]]:
    """All intents (ask x topic), each a list of its wordings, in a shuffled order."""
    intents = [[w.format(t=t) for w in ask] for ask in _ASKS for t in _TOPICS]
    random.Random(seed).shuffle(intents)
    return intents


def run_semantic(args: argparse.Namespace, embedder: Any = None, evaluator: Any = None) -> dict[str, Any]:
    from .._cache import Cache
    from .._semantic.config import Semantic
    from .bench import percentile

    if args.requests < 1:
        raise SystemExit("--requests must be at least 1")
    intents = make_intents(args.seed)
    rng = random.Random(args.seed + 1)
    weights = [1.0 / (rank + 1) ** args.zipf for rank in range(len(intents))]
    stream = rng.choices(range(len(intents)), weights=weights, k=args.requests)
    wordings = [rng.randrange(len(intents[i])) for i in stream]

    if embedder is None and getattr(args, "embedder", "default") == "hashing":
        from ..embedders import CachedEmbedder, HashingEmbedder

        embedder = CachedEmbedder(HashingEmbedder())
    t0 = time.perf_counter()
    cache = Cache(
        max_entries=100_000, semantic=Semantic(embedder=embedder, threshold=args.threshold, evaluator=evaluator)
    )
    setup_s = time.perf_counter() - t0
    tier = cache.semantic
    answered: set[int] = set()
    counts = {"exact": 0, "semantic": 0, "semantic_correct": 0, "llm_calls": 0, "paraphrase_opportunities": 0}
    lat: dict[str, list[float]] = {"exact": [], "semantic": [], "miss": []}
    wrong_examples: list[dict[str, Any]] = []
    for intent, wording in zip(stream, wordings):
        text = intents[intent][wording]
        req = {
            "model": "gpt-4o-mini",
            "temperature": 0,
            "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": text}],
        }
        start = time.perf_counter()
        hit = cache.get(req)
        dt = time.perf_counter() - start
        if intent in answered and (hit is None or hit.source != "exact"):
            # The question was answered before in other words: a semantic hit was possible.
            counts["paraphrase_opportunities"] += 1
        if hit is None:
            lat["miss"].append(dt)
            counts["llm_calls"] += 1
            cache.put(req, {"intent": intent, "content": f"An answer about: {intents[intent][0]}"})
            answered.add(intent)
            continue
        lat[hit.source].append(dt)
        counts[hit.source] += 1
        if hit.source == "semantic":
            if hit.response["intent"] == intent:
                counts["semantic_correct"] += 1
            elif len(wrong_examples) < 5:
                wrong_examples.append(
                    {
                        "asked": text,
                        "served_for": intents[hit.response["intent"]][0],
                        "similarity": round(hit.similarity or 0.0, 4),
                    }
                )
    for v in lat.values():
        v.sort()
    us = 1e6
    sem = counts["semantic"]
    return {
        "workload": {
            "kind": "semantic",
            "requests": args.requests,
            "intents": len(intents),
            "wordings_per_intent": len(_ASKS[0]),
            "zipf": args.zipf,
            "seed": args.seed,
        },
        "embedder": str(getattr(tier.embedder, "name", type(tier.embedder).__name__)),
        "threshold": tier.threshold,
        "setup_s": setup_s,
        "llm_calls": counts["llm_calls"],
        "exact_hits": counts["exact"],
        "semantic_hits": sem,
        "semantic_correct": counts["semantic_correct"],
        "semantic_wrong": sem - counts["semantic_correct"],
        "semantic_precision": counts["semantic_correct"] / sem if sem else None,
        "semantic_recall": counts["semantic_correct"] / counts["paraphrase_opportunities"]
        if counts["paraphrase_opportunities"]
        else None,
        "hit_rate": (counts["exact"] + sem) / args.requests,
        "latency_us": {
            name: {
                "p50": percentile(v, 0.5) * us,
                "p99": percentile(v, 0.99) * us,
                "mean": statistics.fmean(v) * us if v else 0.0,
            }
            for name, v in lat.items()
        },
        "wrong_examples": wrong_examples,
    }


def print_semantic_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"dejacache bench: semantic workload ({report['embedder']}, threshold {report['threshold']:.3f})"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    w = report["workload"]
    table.add_row(
        "requests / intents x wordings",
        f"{w['requests']} / {w['intents']} x {w['wordings_per_intent']} (zipf {w['zipf']})",
    )
    table.add_row("LLM calls made", str(report["llm_calls"]))
    table.add_row("exact hits", str(report["exact_hits"]))
    table.add_row("semantic hits (wrong answers)", f"{report['semantic_hits']} ({report['semantic_wrong']})")
    prec, rec = report["semantic_precision"], report["semantic_recall"]
    table.add_row("semantic precision", "n/a" if prec is None else f"{prec:.1%}")
    table.add_row("semantic recall (paraphrases served)", "n/a" if rec is None else f"{rec:.1%}")
    table.add_row("hit rate", f"{report['hit_rate']:.1%}")
    for name in ("exact", "semantic", "miss"):
        lat = report["latency_us"][name]
        table.add_row(f"{name} lookup p50 / p99", f"{lat['p50']:.1f} / {lat['p99']:.1f} us")
    Console().print(table)
    for ex in report["wrong_examples"]:
        Console().print(
            f"  wrong hit: {ex['asked']!r} served the answer to {ex['served_for']!r} (score {ex['similarity']})"
        )
