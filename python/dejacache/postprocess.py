"""Post-processors: which of the candidates that passed the threshold is served.

A post-processor receives the passing candidates, best score first, each a dict with
``"score"``, ``"similarity"``, ``"response"``, ``"text"``, ``"age"`` and ``"key"``, and returns one
of them. A plain callable ``candidates -> candidate`` works too.

>>> from dejacache import postprocess
>>> postprocess.first([{"score": 0.97, "response": "a"}, {"score": 0.93, "response": "b"}])["response"]
'a'
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

__all__ = ["First", "RandomChoice", "TemperatureSoftmax", "first", "random", "temperature_softmax"]


class First:
    """The best-scoring candidate."""

    def __call__(self, candidates: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return candidates[0]

    def __repr__(self) -> str:
        return "First()"


class RandomChoice:
    """A candidate chosen uniformly at random (``seed`` for repeatable runs)."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._rng = _random.Random(seed)

    def __call__(self, candidates: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return candidates[self._rng.randrange(len(candidates))]

    def __repr__(self) -> str:
        return f"RandomChoice(seed={self.seed!r})"


class TemperatureSoftmax:
    """A candidate drawn with probability ``softmax(score / temperature)`` by the core's
    sampler: a low temperature nearly always serves the best, a high one spreads answers out
    among the candidates that passed (varied answers to a popular question).
    ``temperature=0`` always serves the best.
    """

    def __init__(self, temperature: float = 0.5, seed: int | None = None):
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
            raise ValueError(f"temperature must be a number >= 0, not {temperature!r}")
        self.temperature = float(temperature)
        self.seed = seed
        self._draws = 0

    def __call__(self, candidates: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if len(candidates) == 1:
            return candidates[0]
        if self.temperature == 0.0:
            # The best score, first on ties (candidates usually arrive best first already).
            return max(candidates, key=lambda c: float(c.get("score", 0.0)))
        from .sampling import sample

        seed = None
        if self.seed is not None:
            # A fixed seed must still vary from draw to draw, or every draw picks the same one.
            seed = self.seed + self._draws
            self._draws += 1
        return candidates[int(sample([float(c["score"]) for c in candidates], self.temperature, seed=seed))]

    def __repr__(self) -> str:
        return f"TemperatureSoftmax(temperature={self.temperature!r}, seed={self.seed!r})"


first = First()
random = RandomChoice()
temperature_softmax = TemperatureSoftmax()
