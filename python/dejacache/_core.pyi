"""Type stubs of the compiled core (checked against the binary by tests/test_stubs.py)."""

from os import PathLike
from collections.abc import Callable
from typing import Any, final

from typing_extensions import Self

import numpy as np
import numpy.typing as npt
import numpy

__all__ = [
    "DEBUG_BUILD",
    "EntryStore",
    "HashingEmbedder",
    "Hit",
    "HitPath",
    "KEY_SCHEMA_VERSION",
    "KeySchema",
    "VectorIndex",
    "__version__",
    "distance_cosine",
    "distance_dot",
    "distance_l2",
    "key_of_text",
    "sample",
    "simd_level",
    "softmax",
]
__version__: str
KEY_SCHEMA_VERSION: int
DEBUG_BUILD: bool

def key_of_text(text: str) -> str: ...
def distance_cosine(a: object, b: object) -> Any: ...
def distance_dot(a: object, b: object) -> Any: ...
def distance_l2(a: object, b: object) -> Any: ...
def simd_level() -> str: ...
def softmax(scores: npt.NDArray[np.float32], temperature: float) -> npt.NDArray[np.float32]: ...
def sample(scores: npt.NDArray[np.float32], temperature: float, seed: int | None = None) -> int: ...

@final
class KeySchema:
    def __new__(cls, exclude: list[str] = ...) -> Self: ...
    def key(self, request: object) -> str: ...
    @property
    def exclude(self) -> list[str]: ...

@final
class EntryStore:
    def __new__(
        cls,
        max_entries: int | None = None,
        max_bytes: int | None = None,
        default_ttl: float | None = None,
        eviction: str = "lru",
    ) -> Self: ...
    def lookup(
        self, schema: KeySchema, request: object, namespace: str, now: float, max_age: float | None = None
    ) -> tuple[str, bytes | None, float]: ...
    def hit(
        self,
        schema: KeySchema,
        request: object,
        namespace: str,
        now: float,
        max_age: float | None = None,
        mark: bool = False,
    ) -> Hit | list[Any] | str | tuple[str, bytes, float]: ...
    def get(self, key: str, namespace: str, now: float, max_age: float | None = None) -> tuple[bytes, float] | None: ...
    def put(
        self,
        key: str,
        namespace: str,
        value: bytes,
        now: float,
        ttl: float | None = None,
        meta: dict[str, Any] | None = None,
    ) -> tuple[bool, int]: ...
    def remove(self, key: str, namespace: str) -> bool: ...
    def contains(self, key: str, namespace: str, now: float) -> bool: ...
    def clear(self, namespace: str | None = None) -> int: ...
    def purge_expired(self, now: float) -> int: ...
    def keys(self, namespace: str) -> list[str]: ...
    def __len__(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def unlisted_misses(self) -> int: ...
    def stats(self) -> list[tuple[str, dict[str, int]]]: ...

@final
class Hit:
    response: Any
    key: str
    source: str
    age: float
    namespace: str
    similarity: float | None
    meta: dict[str, Any]
    def __new__(
        cls,
        response: Any,
        key: str,
        source: str,
        age: float,
        namespace: str,
        similarity: float | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Self: ...
    def __reduce__(self) -> tuple[type[Hit], tuple[Any, ...]]: ...

@final
class HitPath:
    def __new__(cls, store: EntryStore, schema: KeySchema, namespace: str, clock: Callable[[], float]) -> Self: ...
    def get(self, request: object) -> Hit | str | tuple[str, bytes, float] | None: ...
    def call(self, request: object) -> list[Any] | str | tuple[str, bytes, float] | None: ...

@final
class VectorIndex:
    def __new__(
        cls,
        dim: int,
        metric: str = "cosine",
        kind: str = "auto",
        dtype: str = "f32",
        M: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
    ) -> Self: ...
    def add(
        self, ids: npt.ArrayLike, vectors: npt.ArrayLike, namespace: str | None = None, threads: int | None = None
    ) -> None: ...
    def remove(self, ids: npt.ArrayLike, namespace: str | None = None) -> int: ...
    def search(
        self,
        queries: npt.ArrayLike,
        k: int = 10,
        ef: int | None = None,
        namespace: str | None = None,
        threads: int | None = None,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    @staticmethod
    def load(path: str | PathLike[str], mmap: bool = False) -> VectorIndex: ...
    def contains(self, id: int, namespace: str | None = None) -> bool: ...
    def __contains__(self, id: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def count(self, namespace: str | None = None) -> int: ...
    def namespaces(self) -> list[str]: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def M(self) -> int: ...
    @property
    def ef_construction(self) -> int: ...
    @property
    def ef_search(self) -> int: ...
@final
class HashingEmbedder:
    def __new__(cls, dim: int = 512, min_n: int = 3, max_n: int = 5, words: bool = True) -> Self: ...
    @property
    def dim(self) -> int: ...
    def embed(self, texts: list[str]) -> numpy.ndarray: ...
