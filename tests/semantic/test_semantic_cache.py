"""The semantic tier inside Cache: hits, scope rules, consistency with the exact store, stats."""

import dejacache
import numpy as np
import pytest
from conftest import run_threads
from dejacache import Semantic, evaluation, postprocess, preprocess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from semantic_helpers import BruteForceStore, WordEmbedder


@pytest.fixture(params=["index", "custom-store", "builtin-store", "faiss-store"])
def store_kind(request):
    if request.param == "faiss-store":
        pytest.importorskip("faiss")
    return request.param


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def make(store_kind, clock=None, **semantic):
    semantic.setdefault("embedder", WordEmbedder())
    semantic.setdefault("threshold", 0.9)
    semantic.setdefault("evaluator", evaluation.Cosine())
    if store_kind == "custom-store":
        semantic.setdefault("vector_store", BruteForceStore())
    elif store_kind.endswith("-store"):
        from dejacache import vectorstores

        cls = vectorstores.BuiltinStore if store_kind == "builtin-store" else vectorstores.FaissStore
        semantic.setdefault("vector_store", cls(dim=semantic["embedder"].dim, metric="cosine"))
    cache_kw = {k: semantic.pop(k) for k in ("max_entries", "ttl", "next_cache") if k in semantic}
    return dejacache.Cache(semantic=Semantic(**semantic), clock=clock, **cache_kw)


def chat(text, model="gpt-4o", **params):
    return {"model": model, "messages": [{"role": "user", "content": text}], **params}


def answer(text):
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


def test_paraphrase_hits_and_unrelated_misses(store_kind):
    cache = make(store_kind)
    cache.put(chat("What's the capital of France?"), answer("Paris"))
    hit = cache.get(chat("what is the capital city of France"))
    assert hit is not None and hit.source == "semantic"
    assert hit.response == answer("Paris")
    assert hit.similarity == pytest.approx(1.0, abs=1e-4)
    assert cache.get(chat("What's the capital of Germany?")) is None
    # The exact tier answers the identical request first.
    assert cache.get(chat("What's the capital of France?")).source == "exact"


def test_call_stores_both_tiers_and_serves_paraphrase(store_kind):
    cache = make(store_kind)
    calls = []

    def llm(req):
        calls.append(req)
        return answer(f"answer {len(calls)}")

    assert cache.call(chat("Capital of France?"), llm) == answer("answer 1")
    got = cache.call(chat("the capital of france"), llm)
    assert got == {**answer("answer 1"), "cache": True}
    assert len(calls) == 1
    assert cache.call(chat("capital of Germany?"), llm) == answer("answer 2")
    st = cache.stats()
    assert st["semantic_hits"] == 1
    assert st["hits"] == 1 and st["misses"] == 2


async def test_acall_semantic(store_kind):
    cache = make(store_kind)

    async def llm(req):
        return answer("Paris")

    assert await cache.acall(chat("Capital of France?"), llm) == answer("Paris")
    assert await cache.acall(chat("capital of france"), lambda r: answer("wrong")) == {**answer("Paris"), "cache": True}


@pytest.mark.parametrize(
    "other",
    [
        chat("Capital of France?", model="gpt-4o-mini"),
        chat("Capital of France?", temperature=1.0),
        chat("Capital of France?", tools=[{"type": "function", "function": {"name": "lookup"}}]),
        chat("Capital of France?", response_format={"type": "json_object"}),
        chat("Capital of France?", seed=7),
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Answer in German."},
                {"role": "user", "content": "Capital of France?"},
            ],
        },
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": "We talk about Texas."},
                {"role": "assistant", "content": "OK."},
                {"role": "user", "content": "Capital of France?"},
            ],
        },
    ],
)
def test_no_hit_when_anything_but_wording_differs(store_kind, other):
    cache = make(store_kind)
    cache.put(chat("capital of france", temperature=0.0), answer("Paris"))
    cache.put(chat("capital of france"), answer("Paris"))
    assert cache.get(other) is None


def test_no_hit_across_namespaces(store_kind):
    cache = make(store_kind)
    cache.put(chat("capital of france"), answer("Paris"), namespace="tenant-a")
    assert cache.get(chat("Capital of France?"), namespace="tenant-a").source == "semantic"
    assert cache.get(chat("Capital of France?"), namespace="tenant-b") is None
    assert cache.get(chat("Capital of France?")) is None


def test_concat_all_queries_scope_keeps_unembedded_turns(store_kind):
    cache = make(store_kind, preprocess=preprocess.ConcatAllQueries(context_len=1))
    conv = [
        {"role": "user", "content": "Tell me about Paris"},
        {"role": "assistant", "content": "It is big."},
        {"role": "user", "content": "What is the population?"},
    ]
    cache.put({"model": "m", "messages": conv}, answer("2.1 million"))
    para = [*conv[:2], {"role": "user", "content": "the population please"}]
    assert cache.get({"model": "m", "messages": para}).response == answer("2.1 million")
    other = [{"role": "user", "content": "Tell me about Rome"}, *conv[1:]]
    assert cache.get({"model": "m", "messages": other}) is None


@pytest.mark.parametrize("how", ["delete", "expire", "evict", "clear"])
def test_candidate_whose_entry_is_gone_is_never_served(store_kind, how):
    clock = Clock()
    cache = make(store_kind, clock=clock, max_entries=2, ttl=60)
    first = chat("capital of France")
    cache.put(first, answer("Paris"))
    if how == "delete":
        assert cache.delete(first)
    elif how == "expire":
        clock.t += 61
    elif how == "evict":
        cache.put(chat("tallest mountain"), answer("Everest"))
        cache.put(chat("largest ocean"), answer("Pacific"))
    else:
        assert cache.clear() >= 1
    assert cache.get(chat("Capital of France?")) is None
    # ... and the stale vector is gone too (deleted at once, or dropped when the search met it).
    tier = cache._semantic
    assert all(e.key != cache.key(first) for e in tier._entries.values())


def test_overwrite_serves_the_new_answer(store_kind):
    cache = make(store_kind)
    cache.put(chat("capital of France"), answer("Lyon"))
    cache.put(chat("capital of France"), answer("Paris"))
    assert cache.get(chat("Capital of France?")).response == answer("Paris")
    assert len(cache._semantic) == 1


def test_s_maxage_applies_to_semantic_hits(store_kind):
    clock = Clock()
    cache = make(store_kind, clock=clock)
    cache.put(chat("capital of France"), answer("Paris"))
    clock.t += 100
    assert cache.get(chat("Capital of France?"), cache={"s-maxage": 50}) is None
    hit = cache.get(chat("Capital of France?"), cache={"s-maxage": 500})
    assert hit.age == pytest.approx(100)


def test_no_store_and_no_cache_controls(store_kind):
    cache = make(store_kind)
    cache.call(chat("capital of France"), lambda r: answer("Paris"), cache={"no-store": True})
    assert cache.get(chat("Capital of France?")) is None
    cache.put(chat("capital of France"), answer("Paris"))
    calls = []
    cache.call(chat("Capital of France?"), lambda r: calls.append(r) or answer("fresh"), cache={"no-cache": True})
    assert len(calls) == 1


def test_threshold_and_evaluator_are_applied(store_kind):
    strict = make(store_kind, threshold=0.99)
    strict.put(chat("capital France"), answer("Paris"))
    assert strict.get(chat("capital France population")) is None
    loose = make(store_kind, threshold=0.5)
    loose.put(chat("capital France"), answer("Paris"))
    assert loose.get(chat("capital France population")) is not None
    exact = make(store_kind, threshold=0.5, evaluator=evaluation.ExactMatch())
    exact.put(chat("capital France"), answer("Paris"))
    assert exact.get(chat("capital France population")) is None
    fresh = make(store_kind, evaluator=evaluation.TimeDecay(evaluation.Cosine(), max_age=10), clock=Clock())
    fresh.put(chat("capital France"), answer("Paris"))
    fresh._clock.t += 11
    assert fresh.get(chat("Capital of France?")) is None


def test_plain_callable_stages(store_kind):
    picked = []

    def last(cands):
        picked.append([c["response"] for c in cands])
        return cands[-1]

    cache = make(
        store_kind,
        threshold=0.5,
        preprocess=lambda r: r["messages"][-1]["content"],
        evaluator=lambda q, c: c["similarity"],
        postprocess=last,
    )
    cache.put(chat("capital France"), answer("A"))
    cache.put(chat("capital France population"), answer("B"))
    hit = cache.get(chat("France capital!"))
    assert hit.response == answer("B") and picked == [[answer("A"), answer("B")]]


def test_kreciprocal_and_sequence_match_in_a_tier(store_kind):
    cache = make(store_kind, threshold=0.5, evaluator=evaluation.KReciprocal(k=1))
    cache.put(chat("capital France"), answer("A"))
    cache.put(chat("capital France river"), answer("B"))
    # "capital France river" is closer to "capital France" than the query is: A is refused,
    # B (whose nearest other entry is A at the same distance) can pass.
    hit = cache.get(chat("capital France river population"))
    assert hit is not None and hit.response == answer("B")
    seq = make(
        store_kind,
        threshold=0.9,
        preprocess=preprocess.ConcatAllQueries(skip_roles=["system"]),
        evaluator=evaluation.SequenceMatch(weights=[0.5, 0.5]),
    )
    conv = lambda a, b: {
        "model": "m",
        "messages": [{"role": "user", "content": a}, {"role": "assistant", "content": b}],
    }
    seq.put(conv("capital France", "Paris"), answer("ok"))
    assert seq.get(conv("the capital of France", "Paris")) is not None
    assert seq.get(conv("capital France", "Lyon")) is None


def test_temperature_softmax_postprocess(store_kind):
    pytest.importorskip("dejacache.sampling")
    cache = make(store_kind, threshold=0.5, postprocess=postprocess.TemperatureSoftmax(temperature=50.0, seed=1))
    cache.put(chat("capital France"), answer("A"))
    cache.put(chat("capital France population"), answer("B"))
    seen = {cache.get(chat("France capital")).response["choices"][0]["message"]["content"] for _ in range(100)}
    assert seen == {"A", "B"}


def test_request_the_preprocessor_cannot_read_skips_semantic(store_kind):
    cache = make(store_kind)
    req = {"model": "m", "prompt": "completion style"}
    assert cache.call(req, lambda r: {"t": 1}) == {"t": 1}
    assert cache.call(req, lambda r: {"t": 2}) == {"t": 1, "cache": True}
    assert cache.get({"model": "m", "prompt": "completion style!"}) is None


def test_failing_embedder_does_not_fail_calls(store_kind, caplog):
    class Broken(WordEmbedder):
        def embed(self, texts):
            raise RuntimeError("model crashed")

    cache = make(store_kind, embedder=Broken())
    assert cache.call(chat("hi"), lambda r: {"a": 1}) == {"a": 1}
    assert cache.call(chat("hi"), lambda r: {"a": 2}) == {"a": 1, "cache": True}
    assert "semantic lookup failed" in caplog.text


def test_call_embeds_each_request_once(store_kind):
    emb = WordEmbedder()
    cache = make(store_kind, embedder=emb)
    cache.call(chat("capital of France"), lambda r: answer("Paris"))
    assert emb.texts_embedded == 1  # the lookup's embedding is reused to store


def test_concurrent_misses_and_hits(store_kind):
    cache = make(store_kind)

    def work(i):
        for j in range(60):
            cache.call(chat(f"question {(j + i) % 20} topic"), lambda r: answer("x"))
            cache.get(chat(f"Question {(j + i) % 20} topic?"))

    run_threads(*[(work, i) for i in range(8)])
    # Every stored answer keeps its vector: no concurrent search took one for stale.
    assert len(cache._semantic) == 20


def test_sweep_drops_vectors_of_evicted_entries(store_kind, monkeypatch):
    import dejacache._semantic.writing as sem

    monkeypatch.setattr(sem, "_SWEEP_MIN", 0)
    cache = make(store_kind, max_entries=3)
    for i in range(20):
        cache.put(chat(f"distinct question {i}"), answer(str(i)))
    assert len(cache._semantic) <= 2 * 3 + 1


def test_semantic_config_validation():
    with pytest.raises(ValueError):
        Semantic(threshold=1.5)
    with pytest.raises(ValueError):
        Semantic(top_k=0)
    with pytest.raises(TypeError):
        Semantic(embedder="minilm")
    with pytest.raises(TypeError):
        Semantic(vector_store=object())
    with pytest.raises(TypeError):
        dejacache.Cache(semantic="yes")
    with pytest.raises(TypeError):
        dejacache.Cache(next_cache="redis")
    from dejacache.vectorstores import BuiltinStore

    with pytest.raises(ValueError, match="metric"):
        dejacache.Cache(semantic=Semantic(embedder=WordEmbedder(), vector_store=BuiltinStore(dim=256, metric="l2")))
    with pytest.raises(ValueError, match="dimensional"):
        dejacache.Cache(semantic=Semantic(embedder=WordEmbedder(), vector_store=BuiltinStore(dim=8)))


def test_defaults_follow_the_embedder():
    from dejacache._semantic.config import (
        HASHING_THRESHOLD,
        MODEL_THRESHOLD,
        UNKNOWN_EMBEDDER_THRESHOLD,
        default_evaluator,
        default_threshold,
    )

    class Named(WordEmbedder):
        def __init__(self, name):
            super().__init__()
            self.name = name

    assert default_threshold(Named("all-MiniLM-L6-v2")) == MODEL_THRESHOLD
    assert default_threshold(Named("hashing-512-3to5-words")) == HASHING_THRESHOLD
    assert default_threshold(Named("my-model")) == UNKNOWN_EMBEDDER_THRESHOLD
    assert HASHING_THRESHOLD > MODEL_THRESHOLD
    own = Named("x")
    own.default_threshold = 0.91
    assert default_threshold(own) == 0.91
    assert [type(e).__name__ for e in default_evaluator(Named("all-MiniLM-L6-v2")).evaluators] == [
        "Cosine",
        "NumbersAgree",
    ]
    assert [type(e).__name__ for e in default_evaluator(Named("hashing")).evaluators] == [
        "Cosine",
        "NumbersAgree",
        "TokenSequence",
    ]
    cache = dejacache.Cache(semantic=Semantic(embedder=Named("hashing-512"), vector_store=BruteForceStore()))
    assert cache._semantic.threshold == HASHING_THRESHOLD


def test_default_evaluator_refuses_other_numbers_and_swapped_words(store_kind):
    cache = make(store_kind, evaluator=None, threshold=None)  # the strict defaults of an unmeasured embedder
    cache.put(chat("What is 2+2?"), answer("4"))
    assert cache.get(chat("What is 2+3?")) is None
    assert cache.get(chat("what is 2 + 2")) is not None
    cache.put(chat("What do Croats think of Turks?"), answer("..."))
    assert cache.get(chat("What do Turks think of Croats?")) is None


def test_text_is_normalised_before_embedding(store_kind):
    seen = []

    class Recording(WordEmbedder):
        def embed(self, texts):
            seen.extend(texts)
            return super().embed(texts)

    cache = make(store_kind, embedder=Recording())
    cache.put(chat("What's  the capital of France?"), answer("Paris"))
    assert seen == ["What is the capital of France"]
    raw = make(store_kind, embedder=Recording(), normalize=False)
    seen.clear()
    raw.put(chat("What's  the capital of France?"), answer("Paris"))
    assert seen == ["What's  the capital of France?"]


async def test_concurrent_acalls_with_semantic_tier(store_kind):
    import asyncio

    cache = make(store_kind)
    calls = []

    async def llm(req):
        calls.append(req)
        await asyncio.sleep(0.01)
        return answer(req["messages"][-1]["content"])

    first = await cache.acall(chat("capital of France"), llm)
    texts = ["Capital of France?", "the capital of france", "capital of Germany", "capital of France"] * 5
    got = await asyncio.wait_for(asyncio.gather(*(cache.acall(chat(t), llm) for t in texts)), timeout=60)
    for t, r in zip(texts, got):
        if "France" in t or "france" in t:
            assert r == {**first, "cache": True}
    # Germany: one leader call (single-flight), the rest joined or hit.
    assert sum(1 for c in calls if "Germany" in c["messages"][-1]["content"]) == 1


class BestLastStore(BruteForceStore):
    """Lists its best candidate last (the protocol does not promise an order)."""

    def search(self, queries, k, ef=None, namespace=None):
        ids, sims = super().search(queries, k, ef=ef, namespace=namespace)
        found = int((~np.isnan(sims[0])).sum())
        order = list(range(1, found)) + [0] + list(range(found, k))
        return ids[:, order].copy(), sims[:, order].copy()


@pytest.mark.parametrize("store", [BruteForceStore, BestLastStore])
def test_the_most_similar_passing_candidate_is_served(store):
    # Three stored texts pass the threshold; the default post-processor must pick the closest,
    # whatever order the store lists them in (the tier stops reading after the best one).
    cache = make("custom-store", vector_store=store(), threshold=0.5)
    cache.put(chat("capital France Paris"), answer("three words"))
    cache.put(chat("capital France"), answer("two words"))
    cache.put(chat("capital France Paris Seine"), answer("four words"))
    hit = cache.get(chat("the capital of France"))
    assert hit is not None and hit.source == "semantic"
    assert hit.response == answer("two words") and hit.similarity == pytest.approx(1.0, abs=1e-4)
    hit = cache.get(chat("France capital Paris"))
    assert hit.response == answer("three words")


def test_put_many_stores_both_tiers_with_batched_embedding(store_kind):
    emb = WordEmbedder()
    cache = make(store_kind, embedder=emb)
    topics = [f"topic{i}" for i in range(600)]
    keys = cache.put_many([(chat(f"tell me about {t}"), answer(t)) for t in topics])
    assert keys == [cache.key(chat(f"tell me about {t}")) for t in topics]
    assert emb.calls == 3  # 600 texts, 256 a call
    assert cache.get(chat("tell me about topic7")).source == "exact"
    hit = cache.get(chat("please tell me about the topic7"))
    assert hit is not None and hit.source == "semantic" and hit.response == answer("topic7")
    assert cache.get(chat("tell me about topic7", model="gpt-4o-mini")) is None  # scope kept


def test_put_many_later_duplicate_wins_and_overwrites(store_kind):
    cache = make(store_kind)
    cache.put(chat("capital of France"), answer("old"))
    cache.put_many(
        [
            (chat("capital of France"), answer("first")),
            (chat("capital of Spain"), answer("Madrid")),
            (chat("capital of France"), answer("Paris"), {"cost_usd": 0.5}),
        ]
    )
    assert cache.get(chat("capital of France")).response == answer("Paris")
    hit = cache.get(chat("what is the capital of France"))
    assert hit.source == "semantic" and hit.response == answer("Paris") and hit.meta == {"cost_usd": 0.5}
    assert cache.get(chat("what is the capital of Spain")).response == answer("Madrid")


def test_put_many_checks_every_item_before_storing_any(store_kind):
    cache = make(store_kind)
    cache.put(chat("kept"), answer("kept"))
    good = (chat("fine"), answer("fine"))
    with pytest.raises(TypeError, match="item 1: cannot store a response of type object.*nothing was stored"):
        cache.put_many([good, (chat("bad"), object())])
    with pytest.raises(TypeError, match="item 2 must be"):
        cache.put_many([good, good, chat("no answer")])
    with pytest.raises(TypeError, match="item 0: .*nothing was stored"):
        cache.put_many([({"messages": [{"content": {1, 2}}]}, answer("x"))])
    assert cache.get(chat("fine")) is None and cache.get(chat("kept")).response == answer("kept")
    assert cache.put_many([]) == []
    for not_items in (None, "text", {"messages": []}, 3):
        with pytest.raises(TypeError, match="put_many takes an iterable of"):
            cache.put_many(not_items)


def test_put_many_honours_controls_namespaces_and_levels(store_kind):
    lower = make(store_kind)
    cache = make(store_kind, next_cache=lower)
    cache.put_many([(chat("capital of France"), answer("Paris"))], namespace="tenant-a")
    cache.put_many([(chat("capital of Italy"), answer("Rome"))], cache={"no-store": True})
    assert cache.get(chat("capital of Italy")) is None and lower.get(chat("capital of Italy")) is None
    assert cache.get(chat("what is the capital of France")) is None  # other namespace
    assert cache.get(chat("what is the capital of France"), namespace="tenant-a").source == "semantic"
    assert lower.get(chat("what is the capital of France"), namespace="tenant-a").response == answer("Paris")


def test_put_many_keeps_exact_entries_when_the_vector_store_fails(caplog):
    class FailingStore(BruteForceStore):
        def add(self, ids, vectors, namespace=None):
            raise RuntimeError("disk full")

    cache = make("custom-store", vector_store=FailingStore())
    cache.put_many([(chat("capital of France"), answer("Paris"))])
    assert cache.get(chat("capital of France")).response == answer("Paris")
    assert cache.get(chat("what is the capital of France")) is None
    assert "vectors not stored" in caplog.text


_WORDS = ["capital", "france", "spain", "paris", "river", "longest", "tallest", "mountain", "bread", "recipe"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3),
            st.sampled_from(["a", "b"]),
            st.sampled_from(["gpt-4o", "gpt-4o-mini"]),
            st.integers(0, 5),
        ),
        max_size=25,
    ),
    st.lists(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3), max_size=10),
)
def test_put_many_answers_like_put_in_a_loop(items, queries):
    # Same items through put() one by one and through put_many(): every lookup (stored texts,
    # reworded ones, other namespaces and models) gets the same answer from both.
    one, many = make("index", threshold=0.7), make("index", threshold=0.7)
    for words, ns, model, value in items:
        one.put(chat(" ".join(words), model=model), answer(str(value)), namespace=ns)
    for ns in ("a", "b"):
        many.put_many([(chat(" ".join(w), model=m), answer(str(v))) for w, n, m, v in items if n == ns], namespace=ns)
    probes = [" ".join(w) for w, *_ in items] + [" ".join(["the", *q]) for q in queries]
    for text in probes:
        for ns in ("a", "b"):
            for model in ("gpt-4o", "gpt-4o-mini"):
                a, b = one.get(chat(text, model=model), namespace=ns), many.get(chat(text, model=model), namespace=ns)
                assert (a is None) == (b is None)
                if a is not None:
                    assert (a.source, a.response) == (b.source, b.response)


def test_put_many_stores_in_chunks_and_a_failed_chunk_loses_only_its_vectors(monkeypatch, caplog):
    from dejacache._semantic import writing as _semantic

    class FirstAddFails(BruteForceStore):
        adds = 0

        def add(self, ids, vectors, namespace=None):
            FirstAddFails.adds += 1
            if FirstAddFails.adds == 1:
                raise RuntimeError("disk full")
            super().add(ids, vectors, namespace)

    monkeypatch.setattr(_semantic, "STORE_CHUNK", 10)
    cache = make("custom-store", vector_store=FirstAddFails())
    cache.put_many([(chat(f"tell me about topic{i}"), answer(str(i))) for i in range(35)])
    assert FirstAddFails.adds == 4  # one add per chunk of 10: the tier's lock is let go between them
    assert "vectors not stored" in caplog.text
    for i in range(35):
        assert cache.get(chat(f"tell me about topic{i}")).response == answer(str(i))  # exact entries all stand
        hit = cache.get(chat(f"please tell me about the topic{i}"))
        assert (hit is None) if i < 10 else (hit.response == answer(str(i)))


def test_put_many_leaves_out_only_the_rows_the_index_refuses(caplog):
    class HolesEmbedder(WordEmbedder):
        def embed(self, texts):
            out = super().embed(texts)
            for i, t in enumerate(texts):
                if "nan" in t:
                    out[i] = np.nan
                if "zero" in t:
                    out[i] = 0.0
            return out

    cache = make("index", embedder=HolesEmbedder())
    cache.put_many(
        [
            (chat("capital of France"), answer("Paris")),
            (chat("nan question"), answer("x")),
            (chat("zero question"), answer("y")),
            (chat("capital of Spain"), answer("Madrid")),
        ]
    )
    assert "2 vectors not stored" in caplog.text
    assert cache.get(chat("what is the capital of France")).response == answer("Paris")
    assert cache.get(chat("what is the capital of Spain")).response == answer("Madrid")
    assert cache.get(chat("nan question")).response == answer("x")  # the exact entry stands


def test_bulk_loads_beside_lookups_and_deletes_never_serve_a_wrong_answer(store_kind, monkeypatch):
    from dejacache._semantic import writing as _semantic

    monkeypatch.setattr(_semantic, "STORE_CHUNK", 16)  # many lock hand-overs
    cache = make(store_kind, max_entries=500)  # evictions too
    wrong = []

    def loader(i):
        for _ in range(3):
            cache.put_many([(chat(f"tell me about topic{i}x{j}"), answer(f"{i}x{j}")) for j in range(60)])

    def reader(i):
        for rnd in range(150):
            j = (rnd * 7 + i) % 60
            for who in range(3):
                hit = cache.get(chat(f"please tell me about the topic{who}x{j}"))
                if hit is not None and hit.response != answer(f"{who}x{j}"):
                    wrong.append((who, j, hit.response))
            if rnd % 10 == 0:
                cache.delete(chat(f"tell me about topic{i}x{j}"))

    run_threads(*[(loader, i) for i in range(3)], *[(reader, i) for i in range(3)], timeout=120)
    assert not wrong
    assert len(cache) <= 500
