"""Many threads and tasks on one cache: no deadlock, no lost update, one provider call per miss."""

import asyncio
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import dejacache
import pytest
from conftest import chat


@pytest.mark.timeout(60)
def test_sixteen_threads_of_mixed_operations():
    c = dejacache.Cache(max_entries=200, ttl=30)
    errors = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(3_000):
                req = chat(str(rng.randrange(400)), temperature=rng.choice([0, 1]))
                op = rng.random()
                if op < 0.5:
                    hit = c.get(req)
                    if hit is not None:
                        assert hit.response["q"] == req["messages"][0]["content"]
                elif op < 0.8:
                    c.put(req, {"q": req["messages"][0]["content"]}, namespace=rng.choice([None, "t2"]))
                elif op < 0.9:
                    c.call(req, lambda r: {"q": r["messages"][0]["content"]})
                elif op < 0.97:
                    c.delete(req)
                elif op < 0.99:
                    c.stats()
                else:
                    c.clear(rng.choice([None, "t2"]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    st = c.stats()
    assert st["entries"] == len(c) <= 200
    assert sum(ns["entries"] for ns in st["namespaces"].values()) == st["entries"]


@pytest.mark.timeout(30)
def test_single_flight_threads_make_one_call():
    c = dejacache.Cache()
    calls = []
    gate = threading.Event()

    def slow_llm(req):
        calls.append(1)
        gate.wait(5)
        return {"answer": 42}

    with ThreadPoolExecutor(16) as ex:
        futures = [ex.submit(c.call, chat(), slow_llm) for _ in range(16)]
        time.sleep(0.2)  # let every thread reach the flight
        gate.set()
        results = [f.result() for f in futures]
    assert len(calls) == 1
    assert all(r["answer"] == 42 for r in results)
    assert sum("cache" not in r for r in results) == 1  # only the leader's answer is its own
    assert c.stats()["coalesced"] + c.stats()["hits"] == 15
    # Each waiter got its own copy.
    results[0]["answer"] = 0
    assert all(r["answer"] == 42 for r in results[1:])


@pytest.mark.timeout(30)
def test_single_flight_error_reaches_every_waiter_and_is_not_stored():
    c = dejacache.Cache()
    gate = threading.Event()
    calls = []

    def failing(req):
        calls.append(1)
        gate.wait(5)
        raise RuntimeError("provider down")

    with ThreadPoolExecutor(8) as ex:
        futures = [ex.submit(c.call, chat(), failing) for _ in range(8)]
        time.sleep(0.2)
        gate.set()
        for f in futures:
            with pytest.raises(RuntimeError, match="provider down"):
                f.result()
    assert len(calls) == 1
    assert len(c) == 0
    assert c.call(chat(), lambda r: {"ok": True}) == {"ok": True}


@pytest.mark.timeout(30)
def test_different_requests_do_not_wait_for_each_other():
    c = dejacache.Cache()
    gate = threading.Event()

    def llm(req):
        if req["messages"][0]["content"] == "slow":
            gate.wait(5)
        return {"q": req["messages"][0]["content"]}

    with ThreadPoolExecutor(2) as ex:
        slow = ex.submit(c.call, chat("slow"), llm)
        fast = ex.submit(c.call, chat("fast"), llm)
        assert fast.result(timeout=2) == {"q": "fast"}
        gate.set()
        assert slow.result() == {"q": "slow"}


@pytest.mark.timeout(30)
async def test_single_flight_tasks_make_one_call():
    c = dejacache.Cache()
    calls = []

    async def llm(req):
        calls.append(1)
        await asyncio.sleep(0.1)
        return {"answer": 7}

    results = await asyncio.gather(*(c.acall(chat(), llm) for _ in range(20)))
    assert len(calls) == 1
    assert all(r["answer"] == 7 for r in results)
    assert (await c.acall(chat(), llm)) == {"answer": 7, "cache": True}


@pytest.mark.timeout(30)
async def test_async_errors_reach_every_waiter_and_are_not_stored():
    c = dejacache.Cache()
    calls = []

    async def llm(req):
        calls.append(1)
        await asyncio.sleep(0.05)
        raise ValueError("bad request")

    results = await asyncio.gather(*(c.acall(chat(), llm) for _ in range(5)), return_exceptions=True)
    assert len(calls) == 1
    assert all(isinstance(r, ValueError) for r in results)
    assert len(c) == 0


@pytest.mark.timeout(30)
async def test_cancelled_leader_hands_over_to_a_waiter():
    c = dejacache.Cache()
    calls = []

    async def llm(req):
        calls.append(1)
        await asyncio.sleep(0.2)
        return {"n": len(calls)}

    leader = asyncio.create_task(c.acall(chat(), llm))
    await asyncio.sleep(0.02)
    waiter = asyncio.create_task(c.acall(chat(), llm))
    await asyncio.sleep(0.02)
    leader.cancel()
    assert (await waiter)["n"] == 2
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert c.get(chat()).response == {"n": 2}


async def test_acall_accepts_a_plain_callable():
    c = dejacache.Cache()
    assert await c.acall(chat(), lambda r: {"sync": True}) == {"sync": True}
    assert await c.acall(chat(), lambda r: {"sync": False}) == {"sync": True, "cache": True}
