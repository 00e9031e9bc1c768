"""Softmax over scores and sampling from it, in the Rust core.

The ``temperature_softmax`` post-processor of the semantic pipeline uses these to pick one
cached answer among several candidates: a high temperature spreads the choice, a temperature
of 0 or less always takes the best-scoring one.

>>> from dejacache import sampling
>>> sampling.softmax([1.0, 1.0]).tolist()
[0.5, 0.5]
>>> sampling.sample([0.2, 0.9, 0.5], temperature=0)
1
>>> sampling.sample([1.0, 2.0, 3.0], seed=42) == sampling.sample([1.0, 2.0, 3.0], seed=42)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core

__all__ = ["sample", "softmax"]

_U64 = (1 << 64) - 1


def _scores(scores: Any) -> np.ndarray:
    arr = np.asarray(scores)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"scores has dtype {arr.dtype}: pass a sequence of real numbers")
    if arr.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {arr.shape}: pass one score per candidate")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _temperature(temperature: float) -> float:
    try:
        return float(temperature)
    except (TypeError, ValueError):
        raise TypeError(f"temperature must be a number, got {temperature!r}") from None


def softmax(scores: Any, temperature: float = 1.0) -> np.ndarray:
    """Probabilities proportional to ``exp(score / temperature)`` as a float32 array.

    Computed after subtracting the maximum, so huge scores do not overflow. A temperature of 0
    or less gives the one-hot vector of the first maximum; ``-inf`` scores get probability 0.
    Raises ValueError for empty scores, NaN or ``+inf``.

    >>> softmax([0.0, 0.0, 0.0, 0.0]).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    return _core.softmax(_scores(scores), _temperature(temperature))


def sample(scores: Any, temperature: float = 1.0, seed: int | None = None) -> int:
    """Index drawn with ``softmax(scores, temperature)`` probabilities.

    The same ``seed`` (any int) gives the same index for the same scores and temperature;
    ``None`` draws from operating-system entropy. A temperature of 0 or less returns the
    index of the first maximum.

    >>> sample([3.0, 1.0], temperature=0.0)
    0
    """
    if seed is not None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        seed = int(seed) & _U64
    return _core.sample(_scores(scores), _temperature(temperature), seed)
