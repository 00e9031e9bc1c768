"""How hard the probe tests (tests/test_probe_*.py) push: fast in CI, longer on demand.

DEJACACHE_PROBE_EXAMPLES=5000 pytest tests/test_probe_*.py
"""

from __future__ import annotations

import os

#: hypothesis examples per property (and stateful runs); concurrency rounds scale with it.
EXAMPLES = max(1, int(os.environ.get("DEJACACHE_PROBE_EXAMPLES", "150")))
ROUNDS = max(10, EXAMPLES // 8)
