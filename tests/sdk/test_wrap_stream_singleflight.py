"""Single-flight for streamed misses: identical streaming calls under way make one provider
request; the others replay it once it completes, or make their own when it fails, is abandoned
or stalls."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

import dejacache  # noqa: E402

MSGS = [{"role": "user", "content": "tell me about streams"}]
CHAT = "/v1/chat/completions"
pytestmark = pytest.mark.timeout(30)


def oai(provider, cache):
    return dejacache.wrap(openai.OpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache)


def aoai(provider, cache):
    return dejacache.wrap(openai.AsyncOpenAI(api_key="k", base_url=provider.url + "/v1", max_retries=0), cache)


def text_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def ask(**extra):
    return {"model": "stream-gated", "messages": MSGS, "stream": True, **extra}


def start_followers(c, n):
    """n threads making the same streamed call; each records (text, replayed?) or its error."""
    results: list = []

    def follow():
        try:
            stream = c.chat.completions.create(**ask())
            results.append((text_of(list(stream)), stream.cache))
        except Exception as exc:  # noqa: BLE001 - the test looks at what happened
            results.append(exc)

    threads = [threading.Thread(target=follow) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, results


def settle(provider, seconds=0.4):
    """Gives the followers time to (wrongly) reach the provider; returns the request count."""
    time.sleep(seconds)
    return provider.total()


def gated_leader_with_followers(c, provider, n):
    """A leader holding the gated stream's first chunk and n followers waiting for it."""
    leader = c.chat.completions.create(**ask())
    first = next(leader)  # the server holds the rest back until the gate opens
    threads, results = start_followers(c, n)
    assert settle(provider) == 1  # the followers wait instead of calling
    return leader, first, threads, results


def join(threads):
    for t in threads:
        t.join(10)


def eventually(condition, seconds=10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_concurrent_identical_streams_make_one_request(provider):
    cache = dejacache.Cache()
    leader, first, threads, results = gated_leader_with_followers(oai(provider, cache), provider, 4)
    provider.gate.set()
    text = text_of([first, *leader])
    join(threads)
    assert results == [(text, True)] * 4
    assert provider.total() == 1 and len(cache) == 1


def test_abandoned_leader_lets_the_followers_call_once_more(provider):
    cache = dejacache.Cache()
    leader, _, threads, results = gated_leader_with_followers(oai(provider, cache), provider, 3)
    provider.gate.set()
    leader.close()  # stops halfway: nothing stored, the followers are released
    join(threads)
    # one follower led the retry, the others replayed its answer
    assert sorted(r[1] for r in results) == [False, True, True]
    assert {r[0] for r in results} == {"answer #2 to tell me about streams"}
    assert provider.total() == 2 and len(cache) == 1


def test_a_leader_stream_collected_unread_releases_the_followers(provider, monkeypatch):
    cache = dejacache.Cache()
    monkeypatch.setattr(cache._stream_flights, "stall_s", 3600)  # only the collection may release them
    leader, _, threads, results = gated_leader_with_followers(oai(provider, cache), provider, 2)
    provider.gate.set()
    # The collector may run the finalizer on a thread inside the flights' lock: it must not deadlock.
    box = [leader]
    del leader

    def drop_inside_the_lock():
        with cache._stream_flights._lock:
            box.clear()
            gc.collect()

    dropper = threading.Thread(target=drop_inside_the_lock, daemon=True)
    dropper.start()
    dropper.join(5)
    assert not dropper.is_alive(), "the finalizer deadlocked on the flights' lock"
    join(threads)
    assert sorted(r[1] for r in results) == [False, True]  # one called again, the other replayed it
    assert provider.total() == 2 and len(cache) == 1


def test_failed_leader_stores_nothing_and_followers_make_their_own_calls(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    leader = c.chat.completions.create(**ask(model="stream-gated-error"))
    next(leader)
    errors: list = []

    def follow():
        try:
            list(c.chat.completions.create(**ask(model="stream-gated-error")))
        except openai.APIError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=follow) for _ in range(3)]
    for t in threads:
        t.start()
    assert settle(provider) == 1
    provider.gate.set()
    with pytest.raises(openai.APIError):
        list(leader)  # the provider fails mid-stream: nothing stored, the followers are released
    join(threads)
    # errors are not shared: each follower made its own call (one at a time) and saw its own
    assert len(errors) == 3 and len(cache) == 0 and provider.total() == 4


def test_a_request_failing_before_its_stream_releases_the_followers(provider, monkeypatch):
    cache = dejacache.Cache()
    monkeypatch.setattr(cache._stream_flights, "stall_s", 3600)  # a flight left open would hang the test
    provider.delay = 1.0
    c = oai(provider, cache)
    errors: list = []

    def call():
        try:
            c.chat.completions.create(model="slow-error-500", messages=MSGS, stream=True)
        except openai.InternalServerError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.05)  # the first one leads; the server holds its answer for 1 s
    assert provider.total() == 1  # the others wait for it
    join(threads)
    # its error is not shared: each waiter called in turn, and nothing was stored
    assert len(errors) == 3 and len(cache) == 0 and provider.total() == 3


def test_a_caller_never_waits_for_its_own_unread_stream(provider, monkeypatch):
    cache = dejacache.Cache()
    monkeypatch.setattr(cache._stream_flights, "stall_s", 3600)  # waiting would hang the test
    c = oai(provider, cache)
    provider.gate.set()
    first = c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)
    second = c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)  # same thread: no deadlock
    assert text_of(second) == "answer #2 to tell me about streams"
    assert text_of(first) == "answer #1 to tell me about streams"
    assert provider.total() == 2


def test_a_stalled_leader_lets_a_follower_call_after_the_stall_time(provider, monkeypatch):
    cache = dejacache.Cache()
    monkeypatch.setattr(cache._stream_flights, "stall_s", 0.3)
    c = oai(provider, cache)
    leader = c.chat.completions.create(**ask())
    next(leader)  # then the leader's caller stops reading, keeping the stream open
    threads, results = start_followers(c, 1)
    assert eventually(lambda: provider.total() == 2)  # the follower gave up waiting and called
    provider.gate.set()
    threads[0].join(10)
    assert results == [("answer #2 to tell me about streams", False)]
    leader.close()


def test_no_store_and_no_cache_calls_do_not_join(provider):
    cache = dejacache.Cache()
    c = oai(provider, cache)
    leader = c.chat.completions.create(**ask())
    next(leader)
    out = []
    t = threading.Thread(target=lambda: out.append(c.chat.completions.create(**ask(), cache={"no-cache": True})))
    t.start()
    t.join(10)
    assert out and provider.total() == 2  # a no-cache call goes straight upstream
    provider.gate.set()
    list(leader)
    list(out[0])


def test_anthropic_stream_helper_followers_replay(provider):
    cache = dejacache.Cache()
    c = dejacache.wrap(anthropic.Anthropic(api_key="k", base_url=provider.url, max_retries=0), cache)
    kwargs = {"model": "stream-gated", "max_tokens": 20, "messages": MSGS}
    results = []

    def follow():
        with c.messages.stream(**kwargs) as s:
            final = s.get_final_message()
            results.append((s.get_final_text(), getattr(final, "cache", False)))

    with c.messages.stream(**kwargs) as live:
        next(iter(live))
        threads = [threading.Thread(target=follow) for _ in range(2)]
        for t in threads:
            t.start()
        assert settle(provider) == 1
        provider.gate.set()
        text = live.get_final_text()
    join(threads)
    assert results == [(text, True)] * 2 and provider.total() == 1


async def test_async_tasks_share_one_streamed_miss(provider, monkeypatch):
    cache = dejacache.Cache()
    monkeypatch.setattr(cache._stream_flights, "stall_s", 3600)
    c = aoai(provider, cache)
    leader = await c.chat.completions.create(**ask())
    first = await leader.__anext__()

    async def follow():
        stream = await c.chat.completions.create(**ask())
        return text_of([ch async for ch in stream]), stream.cache

    followers = [asyncio.create_task(follow()) for _ in range(3)]
    await asyncio.sleep(0.4)
    assert provider.total() == 1 and not any(f.done() for f in followers)
    provider.gate.set()
    text = text_of([first, *[ch async for ch in leader]])
    assert await asyncio.gather(*followers) == [(text, True)] * 3
    # the same task opening the same stream twice does not wait for itself
    s1 = await c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)
    s2 = await c.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True)
    await s1.close()
    await s2.close()
    assert provider.total() == 3


async def test_async_follower_of_a_sync_leader(provider):
    cache = dejacache.Cache()
    sync_client, async_client = oai(provider, cache), aoai(provider, cache)
    leader = sync_client.chat.completions.create(**ask())
    next(leader)
    follower = asyncio.create_task(async_client.chat.completions.create(**ask()))
    await asyncio.sleep(0.3)
    assert not follower.done() and provider.total() == 1
    provider.gate.set()
    await asyncio.to_thread(lambda: text_of(list(leader)))
    replay = await follower
    assert replay.cache is True and len(text_of([ch async for ch in replay])) > 0
    assert provider.total() == 1
