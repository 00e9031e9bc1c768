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
