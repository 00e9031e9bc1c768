"""Prometheus metrics of one worker, in the text exposition format (no client library needed).

Counters are per process: with ``--workers N`` each scrape reaches one worker (sum them in the
query, or scrape each). The cache's own counters (``dejacache_cache_*``) come from
``Cache.stats()`` and are shared when the store is.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

#: Latency buckets in seconds: a hit takes well under a millisecond, a provider call seconds.
BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Histogram:
    __slots__ = ("counts", "total", "n")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0.0
        self.n = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                break
        self.total += seconds
        self.n += 1


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "+Inf" if value > 0 else "NaN"
    return repr(value) if isinstance(value, float) else str(value)


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.latency: dict[tuple[str, str], _Histogram] = {}
        self.upstream_errors: Counter[int] = Counter()
        self.usd_saved = 0.0
        self.tokens_saved = 0

    def observe(self, route: str, status: int, outcome: str, seconds: float) -> None:
        self.requests[(route, status)] += 1
        self.outcomes[(route, outcome)] += 1
        hist = self.latency.get((route, outcome))
        if hist is None:
            hist = self.latency[(route, outcome)] = _Histogram()
        hist.observe(seconds)

    def saved(self, meta: Any) -> None:
        if not isinstance(meta, dict):
            return
        usd, tokens = meta.get("cost_usd"), meta.get("tokens")
        if isinstance(usd, (int, float)) and math.isfinite(usd) and usd > 0:
            self.usd_saved += usd
        if isinstance(tokens, int) and tokens > 0:
            self.tokens_saved += tokens

    def upstream_error(self, status: int) -> None:
        self.upstream_errors[status] += 1

    def render(self, stats: dict | None) -> str:
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family("dejacache_proxy_requests_total", "counter", "Requests answered, by route and HTTP status.")
        for (route, status), n in sorted(self.requests.items()):
            out.append(f"dejacache_proxy_requests_total{_labels(route=route, status=str(status))} {n}")
        family("dejacache_proxy_cache_total", "counter", "Answers by route and outcome (exact, semantic, miss, ...).")
        for (route, outcome), n in sorted(self.outcomes.items()):
            out.append(f"dejacache_proxy_cache_total{_labels(route=route, outcome=outcome)} {n}")
        family("dejacache_proxy_request_seconds", "histogram", "Time to answer, by route and outcome.")
        for (route, outcome), hist in sorted(self.latency.items()):
            running = 0
            for bound, count in zip(BUCKETS, hist.counts):
                running += count
                labels = _labels(route=route, outcome=outcome, le=_num(bound))
                out.append(f"dejacache_proxy_request_seconds_bucket{labels} {running}")
            inf = _labels(route=route, outcome=outcome, le="+Inf")
            out.append(f"dejacache_proxy_request_seconds_bucket{inf} {hist.n}")
            base = _labels(route=route, outcome=outcome)
            out.append(f"dejacache_proxy_request_seconds_sum{base} {_num(hist.total)}")
            out.append(f"dejacache_proxy_request_seconds_count{base} {hist.n}")
        family("dejacache_proxy_upstream_errors_total", "counter", "Upstream answers that were errors, by status.")
        for status, n in sorted(self.upstream_errors.items()):
            out.append(f"dejacache_proxy_upstream_errors_total{_labels(status=str(status))} {n}")
        family("dejacache_proxy_saved_usd_total", "counter", "USD the provider would have billed for hits.")
        out.append(f"dejacache_proxy_saved_usd_total {_num(float(self.usd_saved))}")
        family("dejacache_proxy_saved_tokens_total", "counter", "Tokens hits did not spend.")
        out.append(f"dejacache_proxy_saved_tokens_total {self.tokens_saved}")
        if stats is not None:
            for name, kind in (
                ("hits", "counter"),
                ("misses", "counter"),
                ("semantic_hits", "counter"),
                ("stores", "counter"),
                ("entries", "gauge"),
                ("store_errors", "counter"),
                ("store_skipped", "counter"),
            ):
                value = stats.get(name)
                if isinstance(value, (int, float)):
                    family(f"dejacache_cache_{name}", kind, f"Cache.stats()['{name}'] of this worker's cache.")
                    out.append(f"dejacache_cache_{name} {_num(value)}")
        return "\n".join(out) + "\n"
