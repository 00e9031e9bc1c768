"""The exceptions dejacache raises, under one root.

Each refines the builtin its callers already catch, so ``except ValueError`` and the like keep
working; ``except dejacache.DejacacheError`` catches every one of them::

    Exception
     └── DejacacheError
          ├── ConfigError(ValueError)            a configuration that cannot be used
          ├── UsageError(ValueError)             a usage object that cannot be read
          ├── PriceError(ValueError)             a price entry that cannot be used
          ├── UnknownModelError(ValueError, KeyError)  no price is known for a model
          ├── PreprocessError(ValueError)        nothing in a request can be embedded
          ├── EmbedderUnavailableError(ImportError)  an embedder's model or library is missing
          ├── EmbeddingError(RuntimeError)       an embedder returned unusable vectors
          └── StoreUnavailable(ConnectionError)  a store's backend did not answer

Errors raised by the compiled core for bad arguments are the builtins ``ValueError``,
``TypeError`` and ``OSError`` (with ``FileNotFoundError`` / ``PermissionError``).

>>> issubclass(ConfigError, ValueError) and issubclass(ConfigError, DejacacheError)
True
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DejacacheError",
    "EmbedderUnavailableError",
    "EmbeddingError",
    "PreprocessError",
    "PriceError",
    "StoreUnavailable",
    "UnknownModelError",
    "UsageError",
]


class DejacacheError(Exception):
    """The root of every exception dejacache defines."""


class ConfigError(DejacacheError, ValueError):
    """A cache configuration that cannot be used; the message says where and what to write."""


class UsageError(DejacacheError, ValueError):
    """A usage object that cannot be read: unknown shape, or counts that are not whole numbers >= 0."""


class PriceError(DejacacheError, ValueError):
    """A price entry that cannot be used (a price that is not a number >= 0, a missing price)."""


class UnknownModelError(DejacacheError, ValueError, KeyError):
    """No price is known for a model. Catch it as ``ValueError`` or ``KeyError``."""

    __str__ = BaseException.__str__


class PreprocessError(DejacacheError, ValueError):
    """The request has no part this pre-processor can embed; the semantic tier skips it."""


class EmbedderUnavailableError(DejacacheError, ImportError):
    """An embedder's model or library is not installed; the message says what to install."""


class EmbeddingError(DejacacheError, RuntimeError):
    """An embedder ran but did not produce usable vectors (bad shape, server error, ...)."""


class StoreUnavailable(DejacacheError, ConnectionError):
    """A store's backend did not answer (down, timed out, refused). The cache treats it as a
    miss and still calls the provider; the message never contains a password."""
