"""Distances between vectors on numpy arrays, computed by the SIMD kernels of the Rust core.

Each function takes two arrays ``a`` and ``b`` and returns, by shape:

- 1-D ``(d,)`` and 1-D ``(d,)``: a float;
- 2-D ``(n, d)`` and 1-D ``(d,)`` (either order): an array of shape ``(n,)``;
- 2-D ``(n, d)`` and 2-D ``(m, d)``: an array of shape ``(n, m)``.

Arrays are float32, or float64 for int8 inputs (their dot and l2 are exact integers).
C-contiguous float32 arrays are read in place, without a copy. Two float16 arrays use the
float16 kernels and two int8 arrays the int8 kernels (for vectors quantised with a per-vector
scale: cosine is exact for them since scales cancel; dot and l2 are in the integer codes).
Anything else (lists, float64, strided views, mixed dtypes) is converted to float32 once.
The GIL is released while large batches are computed.

>>> import numpy as np
>>> from dejacache import distance
>>> distance.cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0]))  # doctest: +ELLIPSIS
0.7071067...
>>> distance.l2(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([0.0, 0.0])).tolist()
[0.0, 25.0]

Bad input (a dimension mismatch, 0-D or 3-D arrays, empty vectors, NaN or infinity)
raises ``ValueError``; non-numeric input raises ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _core

__all__ = ["cosine", "dot", "l2", "simd_level"]

_KERNEL_DTYPES = (np.dtype(np.float16), np.dtype(np.int8))


def _as_kernel_arrays(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Converts both inputs once into arrays the kernels read directly."""
    a, b = np.asarray(a), np.asarray(b)
    for name, x in (("a", a), ("b", b)):
        if x.dtype.kind not in "iuf":
            raise TypeError(f"{name} has dtype {x.dtype}: pass an array of real numbers")
        if x.ndim not in (1, 2):
            # Checked here because np.ascontiguousarray turns a 0-D array into a 1-D one.
            raise ValueError(
                f"expected 1-D vectors or 2-D (n, dim) batches, got shapes {a.shape} and {b.shape}: reshape the inputs"
            )
    if a.dtype == b.dtype and a.dtype in _KERNEL_DTYPES:
        return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("=")), np.ascontiguousarray(
            b, dtype=b.dtype.newbyteorder("=")
        )
    return np.ascontiguousarray(a, dtype=np.float32), np.ascontiguousarray(b, dtype=np.float32)


def _call(kernel: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    a, b = _as_kernel_arrays(a, b)
    result = kernel(a, b)
    if result is NotImplemented:  # pragma: no cover - an array mutably borrowed by Rust code
        result = kernel(a.copy(), b.copy())
    return result


def cosine(a: Any, b: Any) -> Any:
    """Cosine similarity in [-1, 1] (higher is closer); 0.0 when either vector is zero.

    >>> import numpy as np
    >>> cosine(np.array([1.0, 2.0], np.float32), np.array([2.0, 4.0], np.float32))
    1.0
    """
    result = _core.distance_cosine(a, b)
    if result is NotImplemented:
        return _call(_core.distance_cosine, a, b)
    return result


def dot(a: Any, b: Any) -> Any:
    """Inner product (higher is closer).

    >>> import numpy as np
    >>> dot(np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32))
    11.0
    """
    result = _core.distance_dot(a, b)
    if result is NotImplemented:
        return _call(_core.distance_dot, a, b)
    return result


def l2(a: Any, b: Any) -> Any:
    """SQUARED Euclidean distance |a - b|^2 (lower is closer); take ``np.sqrt`` for the distance.

    >>> import numpy as np
    >>> l2(np.array([0.0, 0.0], np.float32), np.array([3.0, 4.0], np.float32))
    25.0
    """
    result = _core.distance_l2(a, b)
    if result is NotImplemented:
        return _call(_core.distance_l2, a, b)
    return result


def simd_level() -> str:
    """The SIMD kernel set chosen for this CPU: "avx512", "avx2+fma", "neon" or "scalar"."""
    return _core.simd_level()
