"""The proxy's Prometheus metrics, kept and rendered by prometheus_client.

One worker keeps its counts in its own registry (two apps in one process never share one).
Several workers (``dejacache serve --workers N``, which sets ``PROMETHEUS_MULTIPROC_DIR`` to a
fresh folder for them; or any server started with that variable set) each write their counts to
files in that folder, and a scrape of any worker adds up every worker's: counters never jump
back when a scrape lands on another worker.

The cache's own figures (``dejacache_cache_*``) come from the scraped worker's ``Cache.stats()``
at scrape time; with a shared store (SQLite, Redis, SQL) its entries and counters are the
store's, the same whichever worker answers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

#: Where the workers of one server keep their counts (prometheus_client's multiprocess mode).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: What a scrape answers with (the text exposition format).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Latency buckets in seconds: a hit takes well under a millisecond, a provider call seconds.
BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: ``Cache.stats()`` fields exported, with whether each is a counter (else a gauge).
CACHE_STATS = (
    ("hits", True),
    ("misses", True),
    ("semantic_hits", True),
    ("stores", True),
    ("entries", False),
    ("store_errors", True),
    ("store_skipped", True),
)


class Metrics:
    """The proxy's counters: requests, outcomes, latency, upstream errors and what hits saved."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.shared_dir = os.environ.get(MULTIPROC_ENV) or None
        if self.shared_dir is not None:  # prometheus_client writes its files there from the first count
            os.makedirs(self.shared_dir, exist_ok=True)
        r = self.registry
        self._requests = Counter(
            "dejacache_proxy_requests", "Requests answered, by route and HTTP status.", ["route", "status"], registry=r
        )
        self._outcomes = Counter(
            "dejacache_proxy_cache",
            "Answers by route and outcome (exact, semantic, miss, ...).",
            ["route", "outcome"],
            registry=r,
        )
        self._latency = Histogram(
            "dejacache_proxy_request_seconds",
            "Time to answer, by route and outcome.",
            ["route", "outcome"],
            buckets=BUCKETS,
            registry=r,
        )
        self._upstream_errors = Counter(
            "dejacache_proxy_upstream_errors", "Upstream answers that were errors, by status.", ["status"], registry=r
        )
        self._saved_usd = Counter(
            "dejacache_proxy_saved_usd", "USD the provider would have billed for hits.", registry=r
        )
        self._saved_tokens = Counter("dejacache_proxy_saved_tokens", "Tokens hits did not spend.", registry=r)

    def observe(self, route: str, status: int, outcome: str, seconds: float) -> None:
        self._requests.labels(route, str(status)).inc()
        self._outcomes.labels(route, outcome).inc()
        self._latency.labels(route, outcome).observe(seconds)

    def saved(self, meta: Any) -> None:
        if not isinstance(meta, dict):
            return
        usd, tokens = meta.get("cost_usd"), meta.get("tokens")
        if isinstance(usd, (int, float)) and not isinstance(usd, bool) and math.isfinite(usd) and usd > 0:
            self._saved_usd.inc(usd)
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
            self._saved_tokens.inc(tokens)

    def upstream_error(self, status: int) -> None:
        self._upstream_errors.labels(str(status)).inc()

    def render(self, stats: dict | None) -> bytes:
        """The exposition text: every worker's counts when they share a folder, this worker's
        otherwise, then the cache's figures from ``stats`` (None: left out)."""
        if self.shared_dir is not None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.shared_dir)
        else:
            registry = self.registry
        text = generate_latest(registry)
        if stats is not None:
            cache_registry = CollectorRegistry()
            cache_registry.register(_CacheStats(stats))
            text += generate_latest(cache_registry)
        return text


class _CacheStats:
    """``Cache.stats()`` as metric families (a collector read once, at one scrape)."""

    def __init__(self, stats: dict) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        for name, is_counter in CACHE_STATS:
            value = self.stats.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            family = CounterMetricFamily if is_counter else GaugeMetricFamily
            yield family(f"dejacache_cache_{name}", f"Cache.stats()['{name}'] of the scraped worker's cache.", value)
