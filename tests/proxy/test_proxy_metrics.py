"""/metrics across worker processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (``dejacache serve
--workers N`` sets it), every process's counts land in that folder, which is made if missing,
and any process's scrape adds them all up."""

from __future__ import annotations

import os
import subprocess
import sys

from .proxy_helpers import metric_value

WORKER = """
from dejacache.proxy._metrics import Metrics
m = Metrics()
for _ in range(2):
    m.observe("chat", 200, "exact", 0.001)
m.saved({"cost_usd": 0.25, "tokens": 10})
"""
SCRAPE = """
import sys
from dejacache.proxy._metrics import Metrics
sys.stdout.write(Metrics().render({"hits": 3, "entries": 7}).decode())
"""


def test_counts_of_every_worker_process_add_up(tmp_path):
    folder = tmp_path / "not-made-yet"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(2):  # two workers, one after the other (the counts outlive a worker)
        subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, timeout=60)
    text = subprocess.run(
        [sys.executable, "-c", SCRAPE], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    assert metric_value(text, "dejacache_proxy_requests_total", route="chat", status="200") == 4
    assert metric_value(text, "dejacache_proxy_saved_tokens_total") == 20
    assert metric_value(text, "dejacache_proxy_saved_usd_total") == 0.5
    assert metric_value(text, "dejacache_cache_entries") == 7  # the scraping worker's own cache
