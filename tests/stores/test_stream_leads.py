"""``SharedFlights.lead_or_wait``: the store's flight lock held past the call that takes it (the
streamed misses of the SDK wrappers and the proxy), on a SQLite file, in one process: who leads,
who waits, and how a lead lets go (end, stall, end from a finalizer, a faulty store)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from dejacache._shared_flight import SharedFlights
from dejacache.stores import SQLiteStore
from store_doubles import LockFaultSQLite

NS, KEY = "ns", "0123456789abcdef0123456789abcdef"


@pytest.fixture
def flights(tmp_path):
    store = SQLiteStore(str(tmp_path / "leads.db"))
    yield SharedFlights(store, lease_s=0.6, wait_s=10.0)
    store.close()


def held(flights: SharedFlights) -> bool:
    """Whether anyone holds the lock (a fresh try_lead fails)."""
    token = flights.store.try_lead(NS, KEY, 0.6)
    if token is None:
        return True
    flights.store.end_lead(NS, KEY, token)
    return False


def test_the_first_caller_leads_the_next_waits_for_its_entry(flights):
    lead, stored = flights.lead_or_wait(NS, KEY, None, stall_s=5.0)
    assert lead is not None and not stored and held(flights)
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(flights.lead_or_wait(NS, KEY, None, stall_s=5.0)))
    waiter.start()
    time.sleep(0.3)
    assert not got  # it waits while the lead lives
    flights.store.put(KEY, NS, b"answer", time.time(), None)
    lead.end()
    waiter.join(5)
    assert got == [(None, True)] and not held(flights)
    # an entry stored meanwhile: a new caller reads it instead of leading
    assert flights.lead_or_wait(NS, KEY, None, stall_s=5.0) == (None, True) and not held(flights)


def test_a_lead_ended_without_an_entry_hands_over_to_a_waiter(flights):
    lead, _ = flights.lead_or_wait(NS, KEY, None, stall_s=5.0)
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(flights.lead_or_wait(NS, KEY, None, stall_s=5.0)))
    waiter.start()
    time.sleep(0.2)
    lead.end()
    waiter.join(5)
    ((second, stored),) = got
    assert second is not None and not stored  # the waiter leads now
    second.end()


def test_a_lead_is_kept_while_it_steps_and_expires_once_it_stalls(flights):
    lead, _ = flights.lead_or_wait(NS, KEY, None, stall_s=1.0)
    deadline = time.monotonic() + 1.5  # more than twice the lease: extended, or it would be gone
    while time.monotonic() < deadline:
        lead.step()
        time.sleep(0.1)
    assert held(flights)
    time.sleep(1.0 + 0.6 + 1.0)  # no step for the stall time, then the lease runs out
    assert not held(flights) and not lead.ended


def test_a_lead_ended_from_a_finalizer_expires_without_store_io(flights):
    flights.lease_s = 1.5
    lead, _ = flights.lead_or_wait(NS, KEY, None, stall_s=30.0)
    lead.end(release=False)
    assert held(flights)  # not released: no store I/O
    time.sleep(1.5 + 0.7)
    assert not held(flights)  # no longer extended: expired


def test_waiting_reports_while_a_leader_elsewhere_keeps_its_lock(flights):
    lead, _ = flights.lead_or_wait(NS, KEY, None, stall_s=30.0)
    ticks: list[float] = []
    got: list = []
    waiter = threading.Thread(
        target=lambda: got.append(flights.lead_or_wait(NS, KEY, None, stall_s=0.3, waiting=lambda: ticks.append(1)))
    )
    waiter.start()
    time.sleep(1.0)
    lead.end()
    waiter.join(5)
    assert len(ticks) >= 3  # every stall_s / 3 (0.1 s) at least, in a busy machine
    assert got[0][0] is not None  # then it led
    got[0][0].end()


async def test_async_waiter_gets_the_entry(flights):
    lead, _ = await flights.alead_or_wait(NS, KEY, None, stall_s=5.0)
    assert lead is not None
    waiting = asyncio.create_task(flights.alead_or_wait(NS, KEY, None, stall_s=5.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await asyncio.to_thread(flights.store.put, KEY, NS, b"answer", time.time(), None)
    await asyncio.to_thread(lead.end)
    assert await asyncio.wait_for(waiting, 5) == (None, True)


def test_a_store_fault_means_no_lock(tmp_path):
    store = LockFaultSQLite(str(tmp_path / "b.db"))
    try:
        assert SharedFlights(store).lead_or_wait(NS, KEY, None, stall_s=5.0) == (None, False)
        assert asyncio.run(SharedFlights(store).alead_or_wait(NS, KEY, None, stall_s=5.0)) == (None, False)
        with SharedFlights(store).exclusive(NS, KEY) as held:
            assert held is False  # unguarded, never an error
    finally:
        store.close()


def test_exclusive_lets_one_holder_in_at_a_time(flights):
    with flights.exclusive(NS, KEY) as held:
        assert held and held_by_another(flights)
    assert not held_by_another(flights)  # released on leaving
    with flights.exclusive(NS, KEY) as held:
        assert held


def held_by_another(flights: SharedFlights) -> bool:
    """Whether a second caller (another thread, as another process would) finds the lock taken."""
    result: list[bool] = []

    def other() -> None:
        with flights.exclusive(NS, KEY, timeout_s=0.1) as held:
            result.append(not held)

    t = threading.Thread(target=other)
    t.start()
    t.join(5)
    return result == [True]
