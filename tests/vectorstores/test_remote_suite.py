"""The vector-store behaviour suite of tests/vector/test_vectorstores.py, run on Redis Stack and pgvector."""

from __future__ import annotations

import inspect

import pytest
from vector import test_vectorstores as suite

# Every test of the suite that takes a store factory runs here against the servers' stores.
for _name, _test in inspect.getmembers(suite, inspect.isfunction):
    if _name.startswith("test_") and "make" in inspect.signature(_test).parameters:
        globals()[_name] = _test

metric = suite.metric
rounds = suite.rounds  # a server round trip is fast enough for the whole churn
# The metric-specific tests on every metric, the others on one (see suite.ONE_METRIC).
pytest_generate_tests = suite.one_metric_where_it_does_not_matter


@pytest.fixture
def make(remote_store):
    return remote_store
