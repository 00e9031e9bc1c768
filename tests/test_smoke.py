import dejacache


def test_call_then_hit():
    cache = dejacache.Cache()
    req = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert cache.call(req, lambda r: {"a": 1}) == {"a": 1}
    assert cache.call(req, lambda r: {"a": 2}) == {"a": 1, "cache": True}
