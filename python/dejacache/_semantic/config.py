"""``Semantic``: the semantic tier's settings, and the defaults chosen from measured precision."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..evaluation import AllOf, Cosine, NumbersAgree, TokenSequence

if TYPE_CHECKING:
    from .._protocols import Evaluator, VectorSearch
    from ..embedders._base import Embedder
    from ..preprocess import Preprocessor

#: Default cosine-similarity thresholds, chosen from measured precision on labelled Quora
#: question pairs (notes/semantic.md): a default that serves wrong answers is a bug, so they
#: favour precision over hit rate. With all-MiniLM-L6-v2 on normalised text, 0.95 is where
#: precision reaches the ceiling that QQP's own label noise allows (0.89 measured; 0.90 at 0.99).
MODEL_THRESHOLD = 0.95
#: The lexical hashing fallback shares spelling, not meaning ("learn Rust" vs "learn Ruby" 0.72,
#: "2+2" vs "2+3" 0.92): only near-identical wording may hit.
HASHING_THRESHOLD = 0.98
#: For an embedder we have not measured, the same strictness as the hashing fallback.
UNKNOWN_EMBEDDER_THRESHOLD = 0.98
#: longest text (in characters, ~4,000 tokens) the tier normalises and embeds; see Semantic
MAX_TEXT_CHARS = 16_000


class Semantic:
    """Turns on semantic hits and sets each stage: ``Cache(semantic=Semantic(...))``.

    >>> from dejacache import Cache, Semantic, preprocess, evaluation
    >>> cache = Cache(semantic=Semantic(threshold=0.92, preprocess=preprocess.concat_all_queries,
    ...                                 evaluator=evaluation.Cosine()))   # doctest: +SKIP

    Args:
        embedder: an object with ``dim`` and ``embed(list[str]) -> float32 (n, dim)`` of unit
            vectors; default ``dejacache.embedders.default_embedder()`` (MiniLM offline, or the
            hashing fallback when no model is installed).
        threshold: the lowest evaluator score served, in [0, 1]. With the default evaluator it
            is a plain cosine similarity (1.0 identical direction). Default: the evaluator's
            own ``threshold`` if it has one (a calibrated evaluator), else chosen from measured
            precision for the default model, stricter for the hashing fallback.
        evaluator: ``evaluate(query, candidate) -> float`` or a callable; default
            ``AllOf(Cosine(), NumbersAgree())`` for the default model, plus ``TokenSequence()``
            for the hashing fallback and unmeasured embedders (see :func:`default_evaluator`).
        preprocess: what to embed; default :data:`dejacache.preprocess.last_content`.
        postprocess: which passing candidate to serve; default
            :data:`dejacache.postprocess.first`.
        top_k: candidates fetched from the index per lookup (default 5).
        normalize: embed texts through :func:`dejacache.preprocess.normalize_text`
            (contractions spelled out, whitespace and trailing punctuation dropped); default True.
        vector_store: a ``dejacache.vectorstores.VectorStore``, a ``dejacache.VectorIndex``, or
            an object with ``add(ids, vectors, namespace=)``, ``remove(ids, namespace=)`` and
            ``search(queries, k, namespace=)`` returning ``(ids, similarities)`` (the tier sees
            each as a ``VectorStore``); default the built-in index (cosine).
            Give each Cache its own store, except a store on a server (``remote = True``),
            which caches in several processes share (with one shared exact ``store``), or the
            URL of one: ``"redis://host:6379"``, ``"postgresql://user:pw@host/db"`` (see
            ``dejacache.vectorstores.open_vector_store``; ``os.environ/NAME`` is read when the
            cache is built). Such a store sits behind a fail-open guard: when it is down,
            lookups are misses and vectors are not stored, and no call fails.
        max_text_chars: the longest text (after ``preprocess``) the tier embeds, default
            16,000 characters (~4,000 tokens). Normalising and embedding cost grows with the
            text on every lookup; a longer text gets no semantic lookup and no vector (the exact
            tier still serves it). It is not truncated: two long prompts sharing a prefix would
            then look identical. ``None``: no limit.
    """

    __slots__ = (
        "embedder",
        "threshold",
        "evaluator",
        "preprocess",
        "postprocess",
        "top_k",
        "vector_store",
        "normalize",
        "max_text_chars",
    )

    def __init__(
        self,
        embedder: Embedder | None = None,
        threshold: float | None = None,
        evaluator: Evaluator | Callable[[Any, Any], float] | None = None,
        preprocess: Preprocessor | Callable[[Any], Any] | None = None,
        postprocess: Callable[[list[Any]], Any] | None = None,
        top_k: int = 5,
        vector_store: VectorSearch | str | None = None,
        normalize: bool = True,
        max_text_chars: int | None = MAX_TEXT_CHARS,
    ):
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
                raise ValueError(
                    f"threshold must be a number in [0, 1] (a cosine similarity by default), not {threshold!r}"
                )
            threshold = float(threshold)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 1000:
            raise ValueError(f"top_k must be a whole number in [1, 1000], not {top_k!r}")
        if embedder is not None and not (hasattr(embedder, "dim") and callable(getattr(embedder, "embed", None))):
            raise TypeError(
                "embedder must have .dim and .embed(texts) (wrap a function in dejacache.embedders.CallableEmbedder)"
            )
        if evaluator is not None and not (callable(evaluator) or callable(getattr(evaluator, "evaluate", None))):
            raise TypeError("evaluator must have .evaluate(query, candidate) or be a callable")
        if preprocess is not None and not (callable(preprocess) or callable(getattr(preprocess, "extract", None))):
            raise TypeError("preprocess must be a callable request -> text (see dejacache.preprocess)")
        if postprocess is not None and not callable(postprocess):
            raise TypeError("postprocess must be a callable candidates -> candidate (see dejacache.postprocess)")
        if isinstance(vector_store, str):
            from ..vectorstores._open import scheme_of

            scheme_of(vector_store)  # an unknown scheme is refused now; the store opens with the cache
        elif vector_store is not None:
            missing = [m for m in ("add", "remove", "search") if not callable(getattr(vector_store, m, None))]
            if missing:
                raise TypeError(
                    f"vector_store lacks {', '.join(missing)}(): give it a dejacache.VectorIndex or a vector store"
                )
        if not isinstance(normalize, bool):
            raise TypeError(f"normalize must be True or False, not {normalize!r}")
        if max_text_chars is not None and (
            isinstance(max_text_chars, bool) or not isinstance(max_text_chars, int) or max_text_chars < 1
        ):
            raise ValueError(f"max_text_chars must be a whole number >= 1 or None, not {max_text_chars!r}")
        self.normalize, self.max_text_chars = normalize, max_text_chars
        self.embedder, self.threshold, self.evaluator = embedder, threshold, evaluator
        self.preprocess, self.postprocess, self.top_k, self.vector_store = preprocess, postprocess, top_k, vector_store

    def __repr__(self) -> str:
        return (
            f"Semantic(embedder={self.embedder!r}, threshold={self.threshold!r}, evaluator={self.evaluator!r}, "
            f"preprocess={self.preprocess!r}, postprocess={self.postprocess!r}, top_k={self.top_k})"
        )


def _measured_model(embedder: Any) -> bool:
    return str(getattr(embedder, "name", "")).lower() == "all-minilm-l6-v2"


def default_threshold(embedder: Any) -> float:
    """The default threshold for an embedder: its own ``default_threshold`` when it declares
    one, :data:`MODEL_THRESHOLD` for the measured default model, else the strict value kept
    for the lexical fallback and for embedders nobody measured."""
    own = getattr(embedder, "default_threshold", None)
    if isinstance(own, (int, float)) and not isinstance(own, bool) and 0.0 < own <= 1.0:
        return float(own)
    if _measured_model(embedder):
        return MODEL_THRESHOLD
    name = str(getattr(embedder, "name", "")).lower()
    return HASHING_THRESHOLD if "hash" in name else UNKNOWN_EMBEDDER_THRESHOLD


def default_evaluator(embedder: Any) -> Any:
    """Cosine, and the numbers must agree ("2+2" never answers "2+3"); for anything but the
    measured model, the word order must nearly agree too (a bag of n-grams ignores order)."""
    if _measured_model(embedder):
        return AllOf(Cosine(), NumbersAgree())
    return AllOf(Cosine(), NumbersAgree(), TokenSequence())
