"""Embedding latency per sentence: one text per call vs batched, for all-MiniLM-L6-v2 (our ONNX
graph built from the safetensors weights), paraphrase-MiniLM-L3-v2 (the published ONNX export),
the Rust hashing fallback, and the embedding LRU's hit path. Each ratio is measured in the same run.

    python benches/bench_embed.py [--sentences 128] [--threads 1]

Sentences are real questions from ../shared/data/qqp_pairs_dev.jsonl.gz when it is there
(realistic lengths), else generated ones. Run on a release build (`maturin develop --release`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import time
from pathlib import Path

QQP = Path(__file__).resolve().parents[2] / "shared" / "data" / "qqp_pairs_dev.jsonl.gz"
QQP_ALT = Path("/work/shared/data/qqp_pairs_dev.jsonl.gz")


def sentences(n: int) -> tuple[list[str], str]:
    for path in (QQP, QQP_ALT):
        if path.is_file():
            with gzip.open(path, "rt") as f:
                texts = []
                for line in f:
                    texts.append(json.loads(line)["a"])
                    if len(texts) >= n:
                        break
            return texts, f"first {n} questions of {path.name}"
    rng = random.Random(0)
    words = "how what why best way learn start improve career money health city book language code team".split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(5, 18))) + "?" for _ in range(n)], "generated"


def per_sentence_ms(fn, texts: list[str], repeats: int) -> float:
    """Median over repeats of (seconds for the whole list) / len(texts), in ms."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(texts)
        runs.append((time.perf_counter() - start) / len(texts))
    return statistics.median(runs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from dejacache.embedders import CachedEmbedder, HashingEmbedder, MiniLMEmbedder, MiniLML3Embedder

    texts, source = sentences(args.sentences)
    mean_words = statistics.mean(len(t.split()) for t in texts)
    print(f"{len(texts)} sentences ({source}), {mean_words:.1f} words on average; onnxruntime threads={args.threads}")
    rows = []
    factories = [
        ("all-MiniLM-L6-v2 (onnx)", lambda: MiniLMEmbedder(threads=args.threads, batch_size=args.batch_size)),
        ("paraphrase-MiniLM-L3-v2 (onnx)", lambda: MiniLML3Embedder(threads=args.threads, batch_size=args.batch_size)),
        ("hashing (rust)", lambda: HashingEmbedder()),
    ]
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        print("sentence-transformers not installed: the torch peer is skipped")
    else:
        from dejacache.embedders import SentenceTransformerEmbedder
        from dejacache.embedders._minilm import l6_model_dir

        factories.append(
            (
                "all-MiniLM-L6-v2 (sentence-transformers, torch)",
                lambda: SentenceTransformerEmbedder(
                    __import__("sentence_transformers").SentenceTransformer(str(l6_model_dir()), device="cpu")
                ),
            )
        )
    for label, factory in factories:
        try:
            start = time.perf_counter()
            embedder = factory()
            load = time.perf_counter() - start
        except ImportError as e:
            print(f"{label}: skipped ({e})")
            continue
        embedder.embed(texts[:8])  # warm-up: first-run allocations
        single = per_sentence_ms(lambda ts: [embedder.embed([t]) for t in ts], texts, args.repeats)
        batched = per_sentence_ms(embedder.embed, texts, args.repeats)
        rows.append((label, load, single, batched))
        if label.startswith("all-MiniLM-L6-v2 (onnx)"):
            cached = CachedEmbedder(embedder, max_entries=len(texts))
            cached.embed(texts)
            hit = per_sentence_ms(lambda ts: [cached.embed([t]) for t in ts], texts, args.repeats)
            rows.append(("  CachedEmbedder hit (L6)", 0.0, hit, per_sentence_ms(cached.embed, texts, args.repeats)))

    print(f"\n{'embedder':<48} {'load s':>7} {'single ms':>10} {'batched ms':>11} {'batch gain':>11}")
    for label, load, single, batched in rows:
        print(f"{label:<48} {load:>7.2f} {single:>10.3f} {batched:>11.3f} {single / batched:>10.1f}x")
    base = next((r for r in rows if r[0].startswith("all-MiniLM-L6-v2 (onnx)")), None)
    if base:
        print("\nratios against all-MiniLM-L6-v2 (onnx), single-text calls:")
        for label, _, single, batched in rows:
            if label != base[0]:
                print(
                    f"  {label.strip():<46} {base[2] / single:>8.1f}x faster single, {base[3] / batched:>8.1f}x faster batched"
                )


if __name__ == "__main__":
    main()
