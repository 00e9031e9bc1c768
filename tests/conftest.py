import pytest


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


def chat(content: str = "hi", **params):
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **params}


def run_threads(*jobs, timeout: float = 60.0) -> None:
    """Runs each ``(function, *args)`` on its own thread at once; fails the test when one
    raised, or is still running after ``timeout`` seconds (a deadlock)."""
    import threading

    errors: list[BaseException] = []

    def guarded(fn, args):
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(fn, args)) for fn, *args in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), f"a thread still runs after {timeout} s"
