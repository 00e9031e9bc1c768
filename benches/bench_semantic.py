"""Semantic lookup latency: dejacache against GPTCache (sqlite + faiss), same vectors, same run.

Part 1 (lookup without the embedding): N stored chat requests whose "embeddings" are fixed unit
vectors (dim 384, MiniLM's), and queries whose vectors are noisy copies of stored ones (cosine
about 0.95), so every lookup is a semantic hit. Both caches get the same vectors through a
dictionary-lookup embedder, so the figure is the cache's own work: pre-process, search, fetch
and decode the answer. GPTCache runs its documented similar-cache path (sqlite scalar store,
faiss vector store, SearchDistanceEvaluation) when ``pip install gptcache faiss-cpu`` worked;
otherwise its figure is reported as not measured.

Part 2 (with the embedding): the same lookup through the default embedder
(``dejacache.embedders.default_embedder()``) on a 10k-entry cache of real sentences.

Part 3 (filling): ``put()`` in a loop against ``put_many()`` (batched embedding, one index add
per scope) with the default embedder.

    python benches/bench_semantic.py                       # 10k and 100k entries
    python benches/bench_semantic.py --sizes 10000 --queries 500
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import dejacache
import numpy as np
from dejacache import Semantic
from dejacache._semantic.vectors import SEMANTIC_INDEX_EF, SEMANTIC_INDEX_M
from dejacache.evaluation import Cosine


class LookupEmbedder:
    """Returns precomputed vectors: takes the embedding model out of the measurement."""

    name = "lookup"

    def __init__(self, table: dict[str, np.ndarray], dim: int):
        self.table, self.dim = table, dim

    def embed(self, texts):
        return np.stack([self.table[t] for t in texts])


def unit_rows(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


#: the similarity a semantic hit needs in part 1 (Cosine evaluator)
THRESHOLD = 0.8


def qqp_data(n: int, queries: int, seed: int):
    """Real sentence embeddings (benches/qqp_vectors.py): n stored Quora questions, and as
    queries the other side of labelled duplicate pairs whose first side is stored. The right
    answer is what an exact scan finds: the most similar stored question when it reaches
    THRESHOLD, else a miss (target -1)."""
    import qqp_vectors

    texts, vectors, pairs = qqp_vectors.load()
    rng = np.random.default_rng(seed)
    dups = [(a, b) for a, b, d in pairs if d and a != b]
    chosen = [dups[i] for i in rng.permutation(len(dups))]
    query_rows, partner_rows, used = [], [], set()
    for a, b in chosen:
        if len(query_rows) == queries:
            break
        if b in used or a in used:
            continue
        used.update((a, b))
        query_rows.append(b)
        partner_rows.append(a)
    taken = set(query_rows)
    rest = [r for r in rng.permutation(len(texts)).tolist() if r not in taken and r not in set(partner_rows)]
    if n > len(partner_rows) + len(rest):
        raise SystemExit(f"--data qqp has {len(partner_rows) + len(rest)} questions to store, not {n}")
    stored_rows = np.array(partner_rows + rest[: n - len(partner_rows)])
    stored = vectors[stored_rows]
    q = vectors[np.array(query_rows)]
    sims = q @ stored.T
    best = sims.argmax(axis=1)
    targets = np.where(sims[np.arange(len(q)), best] >= THRESHOLD, best, -1)
    table = {f"stored question {i}": stored[i] for i in range(n)}
    table.update({f"paraphrase {j}": q[j] for j in range(len(q))})
    return stored, targets, table


def make_data(n: int, queries: int, dim: int, seed: int, data: str = "uniform"):
    """Stored vectors (uniform on the sphere: HNSW's worst case; or clustered, as sentence
    embeddings are) and queries at cosine 0.95 to a known stored vector; or real embeddings
    of Quora questions (``qqp``), where target -1 means no stored question is close enough."""
    if data == "qqp":
        return qqp_data(n, queries, seed)
    rng = np.random.default_rng(seed)
    if data == "clustered":
        from bench_index import clustered  # the same data as the index benchmark

        stored, _ = clustered(n, 0, dim, seed=seed)
    else:
        stored = unit_rows(rng.standard_normal((n, dim)))
    targets = rng.integers(0, n, queries)
    noise = unit_rows(rng.standard_normal((queries, dim)))
    # cos(q, stored) = 0.95 exactly in expectation: q = 0.95 s + sqrt(1 - 0.95^2) n_perp
    q = 0.95 * stored[targets] + np.sqrt(1 - 0.95**2) * noise
    q = unit_rows(q)
    table = {f"stored question {i}": stored[i] for i in range(n)}
    table.update({f"paraphrase {j}": q[j] for j in range(queries)})
    return stored, targets, table


def chat(text: str) -> dict:
    return {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": text}]}


def summarise(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50": s[len(s) // 2] * 1e6,
        "p99": s[min(len(s) - 1, int(len(s) * 0.99))] * 1e6,
        "mean": statistics.fmean(s) * 1e6,
    }


def bench_dejacache(n, targets, table, dim, kind, fill_with="put_many"):
    emb = LookupEmbedder(table, dim)
    # The semantic tier's own index settings, with the kind asked for (auto is the tier's).
    index = dejacache.VectorIndex(dim, metric="cosine", kind=kind, M=SEMANTIC_INDEX_M, ef_search=SEMANTIC_INDEX_EF)
    # Cosine alone: the synthetic texts differ in their numbers, which the default evaluator
    # (rightly) refuses; this measures the path of a hit.
    cache = dejacache.Cache(
        max_entries=None, semantic=Semantic(embedder=emb, threshold=THRESHOLD, evaluator=Cosine(), vector_store=index)
    )
    t0 = time.perf_counter()
    if fill_with == "put_many":
        cache.put_many([(chat(f"stored question {i}"), {"answer": i}) for i in range(n)])
    else:
        for i in range(n):
            cache.put(chat(f"stored question {i}"), {"answer": i})
    fill = time.perf_counter() - t0
    lat, correct = [], 0
    get = cache.get
    for j, target in enumerate(targets.tolist()):
        req = chat(f"paraphrase {j}")
        t = time.perf_counter()
        hit = get(req)
        lat.append(time.perf_counter() - t)
        if target < 0:
            correct += hit is None
        else:
            correct += hit is not None and hit.source == "semantic" and hit.response["answer"] == target
    # The index's share: the same searches, straight to the VectorIndex (same scope, same k).
    scope = next(iter(cache._semantic._entries))[0]
    queries = [table[f"paraphrase {j}"][None, :] for j in range(len(targets))]
    search_lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, cache._semantic.top_k, namespace=scope)
        search_lat.append(time.perf_counter() - t)
    return summarise(lat), correct / len(targets), fill, summarise(search_lat)


def bench_gptcache(n, targets, table, dim):
    try:
        from gptcache import Cache as GCache
        from gptcache import Config
        from gptcache.adapter.api import get as gget
        from gptcache.manager import CacheBase, VectorBase, get_data_manager
        from gptcache.manager.scalar_data.base import Answer, DataType
        from gptcache.processor.pre import get_prompt
        from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation
    except ImportError as exc:
        return None, f"not measured here (GPTCache not installed: {exc.name})"
    try:
        import faiss

        faiss.omp_set_num_threads(1)  # as ours: one thread per query (OpenMP only spins on a shared box)
    except (ImportError, AttributeError):
        pass
    tmp = tempfile.mkdtemp(prefix="gptcache-bench-")
    dm = get_data_manager(
        CacheBase("sqlite", sql_url=f"sqlite:///{tmp}/sqlite.db"),
        VectorBase("faiss", dimension=dim, index_path=os.path.join(tmp, "faiss.index")),
        max_size=n + 1,
    )  # its default (1000 entries) would evict most of them
    g = GCache()
    g.init(
        pre_embedding_func=get_prompt,
        embedding_func=lambda x, **kw: table[x],
        data_manager=dm,
        similarity_evaluation=SearchDistanceEvaluation(),
        config=Config(similarity_threshold=0.9),
    )
    questions = [f"stored question {i}" for i in range(n)]
    t0 = time.perf_counter()
    dm.import_data(
        questions, [Answer(str(i), DataType.STR) for i in range(n)], [table[q] for q in questions], [None] * n
    )
    fill = time.perf_counter() - t0
    lat, correct = [], 0
    for j, target in enumerate(targets.tolist()):
        t = time.perf_counter()
        ans = gget(f"paraphrase {j}", cache_obj=g)
        lat.append(time.perf_counter() - t)
        correct += ans is None if target < 0 else ans == str(target)
    return (summarise(lat), correct / len(targets), fill), None


def bench_with_embedding(entries: int, queries: int):
    """End to end on real sentences through the default embedder."""
    from dejacache.embedders import default_embedder

    model = default_embedder()
    topics = ["python", "rust", "databases", "caching", "networking", "statistics", "compilers", "cryptography"]
    asks = [
        "How do I learn {t} number {i}?",
        "What is the best book on {t} volume {i}?",
        "Explain {t} lesson {i} simply.",
        "Common mistakes in {t} chapter {i}?",
    ]
    texts = [a.format(t=t, i=i) for i in range(entries // (len(topics) * len(asks)) + 1) for t in topics for a in asks][
        :entries
    ]
    vecs = np.concatenate([model.embed(texts[s : s + 256]) for s in range(0, len(texts), 256)])
    table = dict(zip(texts, vecs))

    class Prewarmed:
        name, dim = getattr(model, "name", "default"), model.dim

        def embed(self, batch):
            missing = [t for t in batch if t not in table]
            if missing:
                table.update(zip(missing, model.embed(missing)))
            return np.stack([table[t] for t in batch])

    cache = dejacache.Cache(max_entries=None, semantic=Semantic(embedder=Prewarmed()))
    for i, t in enumerate(texts):
        cache.put(chat(t), {"answer": i})
    qs = [
        texts[(j * 7919) % len(texts)]
        .replace("How do I", "How can I")
        .replace("simply", "in simple words")
        .replace("Common mistakes", "What are common mistakes")
        .replace("best book", "best textbook")
        for j in range(queries)
    ]
    lat, hits = [], 0
    for _j, q in enumerate(qs):
        req = chat(q)  # distinct texts, none embedded before: each one pays for its embedding
        t = time.perf_counter()
        hit = cache.get(req)
        lat.append(time.perf_counter() - t)
        hits += hit is not None
    return summarise(lat), hits / len(qs), getattr(model, "name", type(model).__name__)


def bench_fill(entries: int):
    """Filling a semantic cache with the default embedder: put() in a loop against put_many()."""
    from dejacache.embedders import default_embedder

    model = default_embedder()
    texts = [
        f"How do I get better at {topic}, lesson {i}?"
        for i in range(entries // 8 + 1)
        for topic in ("chess", "golf", "piano", "rust", "sql", "drawing", "running", "french")
    ][:entries]
    times = {}
    for how in ("put", "put_many"):
        cache = dejacache.Cache(max_entries=None, semantic=Semantic(embedder=model))
        items = [(chat(f"[{how}] {t}"), {"answer": i}) for i, t in enumerate(texts)]  # new texts: no LRU help
        t0 = time.perf_counter()
        if how == "put":
            for request, response in items:
                cache.put(request, response)
        else:
            cache.put_many(items)
        times[how] = time.perf_counter() - t0
        assert cache.get(chat(f"[{how}] {texts[5]}")).source == "exact"
    return times, getattr(model, "name", type(model).__name__)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--kind", default="auto", help="VectorIndex kind (auto, flat, hnsw)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument(
        "--data",
        choices=("uniform", "clustered", "qqp"),
        default="uniform",
        help="stored vectors: uniform on the sphere (HNSW's worst case), clustered, or real "
        "MiniLM embeddings of Quora questions (needs ../shared/data; see qqp_vectors.py)",
    )
    ap.add_argument("--no-gptcache", action="store_true")
    ap.add_argument("--fill", choices=("put_many", "put"), default="put_many", help="how part 1 fills the cache")
    ap.add_argument("--fill-entries", type=int, default=2000, help="entries of part 3, put vs put_many (0 to skip it)")
    ap.add_argument("--embedding-queries", type=int, default=100, help="queries of part 2 (0 to skip it)")
    args = ap.parse_args(argv)

    print(f"dejacache {dejacache.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    what = (
        "queries: the duplicates of stored questions; right answer = an exact scan's"
        if args.data == "qqp"
        else "every query a semantic hit"
    )
    print(f"part 1: semantic lookup latency without the embedding ({what}; {args.data} data; threshold {THRESHOLD})")
    for n in args.sizes:
        stored, targets, table = make_data(n, args.queries, args.dim, args.seed, args.data)
        ours, our_acc, our_fill, search = bench_dejacache(n, targets, table, args.dim, args.kind, args.fill)
        print(
            f"  {n:>7} entries  dejacache ({args.kind}): p50 {ours['p50']:8.1f} us  p99 {ours['p99']:8.1f} us  "
            f"mean {ours['mean']:8.1f} us  right answer {our_acc:.1%}  (fill by {args.fill} {our_fill:.1f} s)"
        )
        print(
            f"  {n:>7} entries    of which VectorIndex.search alone: p50 {search['p50']:8.1f} us  "
            f"mean {search['mean']:8.1f} us"
        )
        if args.no_gptcache:
            continue
        theirs, why = bench_gptcache(n, targets, table, args.dim)
        if theirs is None:
            print(
                f"  {n:>7} entries  GPTCache sqlite+faiss: {why}; the issue cites 12-15 ms at 10k and "
                "45-49 ms at 100k on this machine"
            )
            continue
        g, g_acc, g_fill = theirs
        print(
            f"  {n:>7} entries  GPTCache sqlite+faiss: p50 {g['p50']:8.1f} us  p99 {g['p99']:8.1f} us  "
            f"mean {g['mean']:8.1f} us  right answer {g_acc:.1%}  (import {g_fill:.1f} s)"
        )
        print(f"  {n:>7} entries  ratio (GPTCache / dejacache, p50): {g['p50'] / ours['p50']:.0f}x")
    if args.embedding_queries:
        print("part 2: semantic lookup with the embedding (10k entries, each query text new)")
        try:
            lat, hit_rate, name = bench_with_embedding(10_000, args.embedding_queries)
        except ImportError as exc:
            print(f"  skipped: {exc}")
        else:
            print(
                f"  embedder {name}: p50 {lat['p50'] / 1000:.2f} ms  p99 {lat['p99'] / 1000:.2f} ms  "
                f"mean {lat['mean'] / 1000:.2f} ms  hit rate {hit_rate:.1%}"
            )
    if args.fill_entries:
        print(f"part 3: filling a semantic cache with {args.fill_entries} new texts through the default embedder")
        try:
            times, name = bench_fill(args.fill_entries)
        except ImportError as exc:
            print(f"  skipped: {exc}")
        else:
            print(
                f"  embedder {name}: put() in a loop {times['put']:.1f} s, put_many() {times['put_many']:.1f} s "
                f"({times['put'] / times['put_many']:.1f}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
