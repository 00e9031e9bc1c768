"""Cache.delete_key: removing an entry by the key a hit (or the proxy's x-dejacache-key) names."""

from __future__ import annotations

import dejacache
import pytest

REQ = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def test_delete_key_removes_at_every_level_and_only_in_its_namespace():
    lower = dejacache.Cache()
    cache = dejacache.Cache(next_cache=lower)
    key = cache.put(REQ, {"a": 1})
    cache.put(REQ, {"a": 2}, namespace="other")
    assert cache.get(REQ).key == key
    assert cache.delete_key(key) is True
    assert cache.get(REQ) is None and lower.get(REQ) is None
    assert cache.get(REQ, namespace="other").response == {"a": 2}
    assert cache.delete_key(key) is False
    with pytest.raises(ValueError, match="key must be a non-empty string"):
        cache.delete_key("")
