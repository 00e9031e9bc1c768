"""Hits through the framework integrations against each framework's own cache, in one run.

Run on a release build (``maturin develop --release``):

    python benches/bench_integrations.py [--calls 400] [--rounds 5]

1. LiteLLM: ``litellm.completion()`` answered by dejacache (``dejacache.integrations.litellm``)
   against LiteLLM's own in-memory ``litellm.Cache()``; then the cache objects alone
   (``litellm.cache.get_cache(**kwargs)``), which shows how much of a hit is LiteLLM's own work.
2. LangChain: ``ChatOpenAI.invoke`` answered by ``DejacacheCache`` (memory and SQLite stores)
   against LangChain's ``InMemoryCache`` and ``SQLiteCache`` (langchain-community); then
   ``lookup`` alone.

Both frameworks talk to the fake provider on 127.0.0.1 (tests/fake_provider.py) for the one
miss that fills each cache. Figures are medians per call over interleaved rounds (each round
times every contender once, in turn, so machine load hits them alike); ratios are from this run.
Last, a profile of one framework's hit path says where its time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM must not fetch prices
warnings.filterwarnings("ignore")

import dejacache  # noqa: E402
from fake_provider import start  # noqa: E402

MSGS = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Explain what an LLM response cache does, in two sentences."},
]


def median_us(fn: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


def interleaved(contenders: dict[str, Callable[[], object]], calls: int, rounds: int) -> dict[str, float]:
    """Median microseconds per call of each contender, over ``rounds`` interleaved rounds."""
    per: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():  # warm: imports, first-call paths
        for _ in range(20):
            fn()
    for _ in range(rounds):
        for name, fn in contenders.items():
            per[name].append(median_us(fn, calls))
    return {name: statistics.median(v) for name, v in per.items()}


def show(title: str, figures: dict[str, float], base: str) -> None:
    print(f"\n{title}")
    for name, us in figures.items():
        ratio = "" if name == base else f"   {figures[base] / us:5.2f}x faster than {base}" if us else ""
        if name != base and us > figures[base]:
            ratio = f"   {us / figures[base]:5.2f}x slower than {base}"
        print(f"  {name:<44} {us:10.1f} us{ratio}")


def profile(fn: Callable[[], object], n: int, top: int = 12) -> None:
    """Where a hit's time goes: the functions with the most own time, by module."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        fn()
    prof.disable()
    stats = pstats.Stats(prof)
    by_area: dict[str, float] = {}
    total = 0.0
    for (file, _line, _name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += tt
        parts = Path(file).parts
        if "site-packages" in parts:
            area = "/".join(parts[parts.index("site-packages") + 1 :][:2])
        elif "dejacache" in parts:
            area = "dejacache/" + parts[-1]
        else:
            area = "python stdlib / builtins"
        by_area[area] = by_area.get(area, 0.0) + tt
    print(f"    own time per hit by module (profiled, {n} hits; profiling inflates every figure):")
    for area, tt in sorted(by_area.items(), key=lambda kv: -kv[1])[:top]:
        print(f"      {area:<52} {tt / n * 1e6:8.1f} us  {tt / total:6.1%}")


# -- LiteLLM -------------------------------------------------------------------------------------


def bench_litellm(url: str, calls: int, rounds: int, do_profile: bool) -> None:
    try:
        import litellm
        from litellm.caching.caching import Cache as LiteLLMCache
    except ImportError as exc:
        print(f"\nLiteLLM: not measured ({exc.name} not installed; pip install 'dejacache[litellm]')")
        return
    from dejacache.integrations import litellm as dc_litellm

    litellm.suppress_debug_info = True
    kw = dict(model="openai/gpt-4o-mini", api_base=url + "/v1", api_key="sk-test", messages=MSGS)
    own, ours = LiteLLMCache(), dc_litellm.enable(dejacache.Cache())
    dc_litellm.disable()

    def with_cache(cache):
        def hit():
            litellm.cache = cache
            r = litellm.completion(**kw)
            assert r._hidden_params.get("cache_hit") is True
            return r

        litellm.cache = cache
        litellm.completion(**kw)  # the miss that fills it
        time.sleep(0.05)
        return hit

    contenders = {"litellm.completion() hit, LiteLLM in-memory Cache": with_cache(own)}
    contenders["litellm.completion() hit, dejacache"] = with_cache(ours)
    figures = interleaved(contenders, calls, rounds)
    lookup_kw = {**kw, "litellm_call_id": "bench"}
    lookups = interleaved(
        {
            "LiteLLM Cache.get_cache(**kwargs) alone": lambda: own.get_cache(**lookup_kw),
            "dejacache LiteLLMCache.get_cache(**kwargs) alone": lambda: ours.get_cache(**lookup_kw),
        },
        calls * 10,
        rounds,
    )
    show("LiteLLM: completion() hit (median per call)", figures, "litellm.completion() hit, LiteLLM in-memory Cache")
    show("LiteLLM: the cache object alone", lookups, "LiteLLM Cache.get_cache(**kwargs) alone")
    ours_total = figures["litellm.completion() hit, dejacache"]
    ours_cache = lookups["dejacache LiteLLMCache.get_cache(**kwargs) alone"]
    print(f"  -> of a dejacache hit through LiteLLM, {ours_cache / ours_total:.1%} is the cache; the rest is LiteLLM")
    if do_profile:
        litellm.cache = ours
        profile(contenders["litellm.completion() hit, dejacache"], max(50, calls // 4))
    litellm.disable_cache()


# -- LangChain -----------------------------------------------------------------------------------


def bench_langchain(url: str, calls: int, rounds: int, tmp: str, do_profile: bool) -> None:
    try:
        from langchain_core.caches import InMemoryCache
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        print(f"\nLangChain: not measured ({exc.name} not installed; pip install langchain-core langchain-openai)")
        return
    from dejacache.integrations.langchain import DejacacheCache

    caches: dict[str, object] = {
        "invoke hit, LangChain InMemoryCache": InMemoryCache(),
        "invoke hit, DejacacheCache (memory)": DejacacheCache(dejacache.Cache()),
    }
    try:
        from langchain_community.cache import SQLiteCache

        caches["invoke hit, LangChain SQLiteCache"] = SQLiteCache(database_path=os.path.join(tmp, "lc.db"))
    except ImportError:
        print("\n(LangChain SQLiteCache not measured: pip install langchain-community)")
    caches["invoke hit, DejacacheCache (sqlite store)"] = DejacacheCache(
        dejacache.Cache(store=f"sqlite:///{os.path.join(tmp, 'dc.db')}")
    )
    contenders = {}
    for name, cache in caches.items():
        model = ChatOpenAI(model="gpt-4o-mini", base_url=url + "/v1", api_key="sk-test", max_retries=0, cache=cache)
        model.invoke(MSGS)  # the miss that fills it
        contenders[name] = lambda model=model: model.invoke(MSGS)
    figures = interleaved(contenders, calls, rounds)
    show("LangChain: ChatOpenAI.invoke hit (median per call)", figures, "invoke hit, LangChain InMemoryCache")

    # The cache alone, asked what invoke asks it: the (prompt, llm_string) pair LangChain built.
    class Recording(InMemoryCache):
        def lookup(self, prompt: str, llm_string: str):  # type: ignore[no-untyped-def]
            self.asked = (prompt, llm_string)
            return super().lookup(prompt, llm_string)

    recording = Recording()
    ChatOpenAI(model="gpt-4o-mini", base_url=url + "/v1", api_key="sk-test", max_retries=0, cache=recording).invoke(
        MSGS
    )
    prompt, llm_string = recording.asked
    for cache in caches.values():
        assert cache.lookup(prompt, llm_string), "each cache holds the answer invoke stored"  # type: ignore[attr-defined]
    lookups = interleaved(
        {
            name.replace("invoke hit, ", "lookup alone, "): (lambda c=c: c.lookup(prompt, llm_string))
            for name, c in caches.items()
        },  # type: ignore[attr-defined]
        calls * 10,
        rounds,
    )
    show("LangChain: lookup(prompt, llm_string) alone", lookups, "lookup alone, LangChain InMemoryCache")
    ours_total = figures["invoke hit, DejacacheCache (memory)"]
    ours_cache = lookups["lookup alone, DejacacheCache (memory)"]
    print(
        f"  -> of a DejacacheCache hit through invoke, {ours_cache / ours_total:.1%} is the cache; the rest is LangChain"
    )
    if do_profile:
        profile(contenders["invoke hit, DejacacheCache (memory)"], max(50, calls // 4))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=400, help="calls per contender per round (lookups alone: 10x)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--only", choices=("litellm", "langchain"), default=None)
    args = ap.parse_args()
    server = start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.only in (None, "litellm"):
                bench_litellm(server.url, args.calls, args.rounds, not args.no_profile)
            if args.only in (None, "langchain"):
                bench_langchain(server.url, args.calls, args.rounds, tmp, not args.no_profile)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
