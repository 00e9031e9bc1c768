"""Real sentence embeddings for the benchmarks: every distinct question of the QQP pairs file
embedded once with the default model, kept in ``benches/.cache/`` (not in git).

    python benches/qqp_vectors.py            # builds the cache (~3 ms a question on this machine)

``load()`` returns (texts, vectors, pairs) and builds the cache on first use. The pairs file
is ``../shared/data/qqp_pairs_dev.jsonl.gz`` (or ``$DEJACACHE_QQP``); benchmarks that use this
say so and skip when it is absent.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
DEFAULT_PAIRS = HERE.parent.parent / "shared" / "data" / "qqp_pairs_dev.jsonl.gz"


def pairs_path() -> Path:
    return Path(os.environ.get("DEJACACHE_QQP", DEFAULT_PAIRS))


def read_pairs(path: Path) -> list[tuple[str, str, bool]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [(r["a"], r["b"], bool(r["duplicate"])) for r in map(json.loads, f)]


def load(batch: int = 256) -> tuple[list[str], np.ndarray, list[tuple[int, int, bool]]]:
    """Distinct question texts, their unit vectors (float32, one row each) and the pairs as
    row indices. Raises FileNotFoundError when the pairs file is absent."""
    src = pairs_path()
    pairs = read_pairs(src)
    texts = sorted({t for a, b, _ in pairs for t in (a, b)})
    row = {t: i for i, t in enumerate(texts)}
    from dejacache.embedders import default_embedder

    model = default_embedder()
    name = getattr(model, "name", type(model).__name__).replace("/", "_")
    stem = CACHE / f"qqp_{name}_{len(texts)}"
    if stem.with_suffix(".npy").exists():
        vectors = np.load(stem.with_suffix(".npy"))
    else:
        CACHE.mkdir(exist_ok=True)
        t0 = time.perf_counter()
        parts = []
        for s in range(0, len(texts), batch):
            parts.append(np.asarray(model.embed(texts[s : s + batch]), dtype=np.float32))
            done = s + len(parts[-1])
            if done % (batch * 40) < batch:
                print(f"  embedded {done}/{len(texts)} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        vectors = np.concatenate(parts)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        np.save(stem.with_suffix(".tmp.npy"), vectors)
        os.replace(stem.with_suffix(".tmp.npy"), stem.with_suffix(".npy"))
    return texts, vectors, [(row[a], row[b], d) for a, b, d in pairs]


if __name__ == "__main__":
    texts, vectors, pairs = load()
    print(f"{len(texts)} questions, vectors {vectors.shape}, {len(pairs)} pairs; cache in {CACHE}")
