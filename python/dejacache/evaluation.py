"""Similarity evaluators: how sure the cache is that a stored request means the same as this one.

An evaluator has one method, ``evaluate(query, candidate) -> float`` in [0, 1]; the semantic tier
serves a candidate only when the score reaches the cache's ``threshold``. Both arguments are
mappings with:

- ``"text"``: the pre-processed text (for a conversation, its turns joined by
  :data:`~dejacache.preprocess.TURN_SEPARATOR`),
- ``"embedding"``: the normalised float32 vector (computed on first access for candidates),
- ``"similarity"`` (candidate only): the cosine similarity between the two embeddings,
- ``"age"`` (candidate only): seconds since the candidate was stored.

The threshold is a plain **cosine similarity** for :class:`Cosine`: 1.0 means the same
direction, 0.0 unrelated. It is not GPTCache's rescaled distance.

>>> from dejacache import evaluation
>>> ev = evaluation.AllOf(evaluation.Cosine(), evaluation.TimeDecay(evaluation.Cosine(), max_age=3600))
>>> ev.evaluate({"text": "a"}, {"text": "b", "similarity": 0.97, "age": 10.0})
0.97

A plain callable ``(query, candidate) -> float`` works wherever an evaluator is expected.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .preprocess import TURN_SEPARATOR

__all__ = [
    "AllOf",
    "AnyOf",
    "Cosine",
    "CrossEncoder",
    "Evaluator",
    "ExactMatch",
    "KReciprocal",
    "NumbersAgree",
    "PairScorer",
    "SequenceMatch",
    "TimeDecay",
    "TokenSequence",
    "Weighted",
    "score_of",
]


def _unit(x: Any) -> float:
    """A score clipped to [0, 1]; NaN (an evaluator that could not decide) counts as 0."""
    x = float(x)
    if math.isnan(x):
        return 0.0
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


class Evaluator:
    """Base class. ``bind(tier)`` is called once by the semantic tier that uses the evaluator,
    so evaluators that need the tier's embedder or index (k-reciprocal, sequence match) get them."""

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        raise NotImplementedError

    def bind(self, tier: Any) -> None:
        """Called by the semantic tier; most evaluators need nothing from it."""

    def __call__(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        return self.evaluate(query, candidate)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def score_of(evaluator: Any, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
    """The score of any evaluator (an object with ``evaluate`` or a plain callable), in [0, 1]."""
    method = getattr(evaluator, "evaluate", None)
    return _unit(method(query, candidate) if callable(method) else evaluator(query, candidate))


def _bind(evaluator: Any, tier: Any) -> None:
    bind = getattr(evaluator, "bind", None)
    if callable(bind):
        bind(tier)


class Cosine(Evaluator):
    """The cosine similarity of the two embeddings (what the vector index already measured)."""

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        sim = candidate.get("similarity")
        if sim is None:
            sim = float(
                np.dot(np.asarray(query["embedding"], np.float32), np.asarray(candidate["embedding"], np.float32))
            )
        return _unit(sim)


class ExactMatch(Evaluator):
    """1.0 when the pre-processed texts are identical, else 0.0."""

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        return 1.0 if query["text"] == candidate["text"] else 0.0


_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
    if w != "_"
}
_NUMBER_WORDS.update(
    {
        "thirty": "30",
        "forty": "40",
        "fifty": "50",
        "sixty": "60",
        "seventy": "70",
        "eighty": "80",
        "ninety": "90",
        "hundred": "1e2",
        "thousand": "1e3",
        "million": "1e6",
        "billion": "1e9",
        "trillion": "1e12",
        "third": "3",
        "fourth": "4",
        "fifth": "5",
        "twice": "2",
        "dozen": "12",
    }
)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")


def numbers_in(text: str) -> list[str]:
    """The numbers a text mentions, digits or unambiguous number words, sorted."""
    out = []
    for tok in _TOKEN.findall(text.lower()):
        if tok[0].isdigit():
            out.append(tok.replace(",", ""))
        elif tok in _NUMBER_WORDS:
            out.append(_NUMBER_WORDS[tok])
    return sorted(out)


class NumbersAgree(Evaluator):
    """1.0 when both texts mention the same numbers, else 0.0: "What is 2+2?" and "What is
    2+3?" embed almost alike (cosine 0.92 with the hashing embedder) but never share an answer.
    Digits and unambiguous number words count ("one", "first", "second" do not: they are
    often not numbers)."""

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        return 1.0 if numbers_in(str(query["text"])) == numbers_in(str(candidate["text"])) else 0.0


class TokenSequence(Evaluator):
    """How alike the two texts' word sequences are (difflib's ratio over lower-cased words):
    catches swapped words ("Croats think of Turks" vs "Turks think of Croats"), which a
    bag-of-n-grams embedder scores 1.0. Part of the strict default for the hashing fallback."""

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        a = _TOKEN.findall(str(query["text"]).lower())
        b = _TOKEN.findall(str(candidate["text"]).lower())
        if a == b:
            return 1.0
        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


class PairScorer(Evaluator):
    """Any model that scores a pair of texts: a callable ``(a, b) -> float``, or an object with
    ``predict([(a, b)])`` (a sentence-transformers ``CrossEncoder``) or ``score(a, b)``.
    Scores outside [0, 1] are clipped, so give it a model that outputs probabilities.
    """

    def __init__(self, scorer: Any):
        if not (callable(scorer) or hasattr(scorer, "predict") or hasattr(scorer, "score")):
            raise TypeError("scorer must be a callable (a, b) -> float or have predict() / score()")
        self.scorer = scorer

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        a, b = str(query["text"]), str(candidate["text"])
        predict = getattr(self.scorer, "predict", None)
        if callable(predict):
            return _unit(np.asarray(predict([(a, b)])).reshape(-1)[0])
        score = getattr(self.scorer, "score", None)
        if callable(score):
            return _unit(score(a, b))
        return _unit(self.scorer(a, b))

    def __repr__(self) -> str:
        return f"PairScorer({self.scorer!r})"


class CrossEncoder(PairScorer):
    """A sentence-transformers cross-encoder read from a local directory (never downloaded):
    the most accurate and the slowest evaluator (one model pass per candidate).

    Needs ``pip install sentence-transformers``.
    """

    def __init__(self, model_path: str):
        try:
            from sentence_transformers import CrossEncoder as _CE
        except ImportError as exc:
            raise ImportError("CrossEncoder needs sentence-transformers: pip install sentence-transformers") from exc
        super().__init__(_CE(model_path, local_files_only=True))
        self.model_path = model_path

    def __repr__(self) -> str:
        return f"CrossEncoder({self.model_path!r})"


class KReciprocal(Evaluator):
    """Serves a candidate only when the query would rank among the candidate's own ``k``
    nearest stored neighbours (the k-reciprocal test): a query near a dense cluster of
    different questions is refused even when its raw similarity is high.
    The score is the cosine similarity when the test passes, else 0.
    """

    def __init__(self, k: int = 3):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number >= 1, not {k!r}")
        self.k = k
        self._neighbours: Callable[[Mapping[str, Any], int], Sequence[float]] | None = None

    def bind(self, tier: Any) -> None:
        self._neighbours = tier.neighbour_similarities

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        if self._neighbours is None:
            raise RuntimeError("KReciprocal needs a semantic tier: pass it as Semantic(evaluator=...)")
        sim = Cosine().evaluate(query, candidate)
        others = sorted(self._neighbours(candidate, self.k), reverse=True)
        if len(others) >= self.k and sim < others[self.k - 1]:
            return 0.0
        return sim

    def __repr__(self) -> str:
        return f"KReciprocal(k={self.k})"


class SequenceMatch(Evaluator):
    """Multi-turn conversations: compares the last ``len(weights)`` turns one by one (cosine of
    each pair of turns) and returns the weighted mean; conversations whose number of turns in
    that window differs score 0. Use it with a pre-processor that keeps turns apart
    (``concat_all_queries``, ``all_content``, ``context_process``).

    ``weights`` run oldest to newest: the default weighs the latest turn most.
    """

    def __init__(self, weights: Iterable[float] = (0.1, 0.2, 0.7), embedder: Any = None):
        weights = [float(w) for w in weights]
        if not weights or any(w < 0 or math.isnan(w) for w in weights) or sum(weights) <= 0:
            raise ValueError("weights must be non-negative numbers with a positive sum")
        self.weights = weights
        self.embedder = embedder

    def bind(self, tier: Any) -> None:
        if self.embedder is None:
            self.embedder = tier.embedder

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        if self.embedder is None:
            raise RuntimeError("SequenceMatch needs an embedder: pass embedder= or use it in a Semantic tier")
        n = len(self.weights)
        q_turns = str(query["text"]).split(TURN_SEPARATOR)[-n:]
        c_turns = str(candidate["text"]).split(TURN_SEPARATOR)[-n:]
        if len(q_turns) != len(c_turns):
            return 0.0
        vecs = np.asarray(self.embedder.embed(q_turns + c_turns), dtype=np.float32)
        m = len(q_turns)
        sims = np.einsum("ij,ij->i", vecs[:m], vecs[m:])
        w = np.asarray(self.weights[-m:], dtype=np.float64)
        return _unit(float(np.dot(w, np.clip(sims, 0.0, 1.0)) / w.sum()))

    def __repr__(self) -> str:
        return f"SequenceMatch(weights={self.weights!r})"


class TimeDecay(Evaluator):
    """Wraps an evaluator: refuses entries older than ``max_age`` seconds, and with
    ``half_life`` halves the score every ``half_life`` seconds of age (old answers must be
    that much closer to be served). A candidate whose age is unknown (no ``"age"``, or not a
    number) scores 0: an answer of unknown date is never taken for a fresh one, as GPTCache's
    ``TimeEvaluation`` refuses an entry without a creation time."""

    def __init__(self, evaluator: Any, max_age: float | None = None, half_life: float | None = None):
        for name, v in (("max_age", max_age), ("half_life", half_life)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
                raise ValueError(f"{name} must be a number of seconds > 0, or None")
        if max_age is None and half_life is None:
            raise ValueError("TimeDecay needs max_age, half_life or both")
        self.evaluator, self.max_age, self.half_life = evaluator, max_age, half_life

    def bind(self, tier: Any) -> None:
        _bind(self.evaluator, tier)

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        age = candidate.get("age")
        if isinstance(age, bool) or not isinstance(age, (int, float)) or math.isnan(age):
            return 0.0
        age = float(age)
        if self.max_age is not None and age > self.max_age:
            return 0.0
        score = score_of(self.evaluator, query, candidate)
        if self.half_life is not None:
            score *= 0.5 ** (max(age, 0.0) / self.half_life)
        return score

    def __repr__(self) -> str:
        return f"TimeDecay({self.evaluator!r}, max_age={self.max_age!r}, half_life={self.half_life!r})"


class _Combination(Evaluator):
    def __init__(self, *evaluators: Any):
        if len(evaluators) == 1 and isinstance(evaluators[0], (list, tuple)):
            evaluators = tuple(evaluators[0])
        if not evaluators:
            raise ValueError(f"{type(self).__name__} needs at least one evaluator")
        for ev in evaluators:
            if not (callable(ev) or callable(getattr(ev, "evaluate", None))):
                raise TypeError(f"not an evaluator: {ev!r}")
        self.evaluators = list(evaluators)

    def bind(self, tier: Any) -> None:
        for ev in self.evaluators:
            _bind(ev, tier)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.evaluators))})"


class AllOf(_Combination):
    """Every evaluator must agree: the lowest score. Stops at the first 0."""

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        low = 1.0
        for ev in self.evaluators:
            low = min(low, score_of(ev, query, candidate))
            if low == 0.0:
                break
        return low


class AnyOf(_Combination):
    """Any evaluator may vouch: the highest score."""

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        return max(score_of(ev, query, candidate) for ev in self.evaluators)


class Weighted(Evaluator):
    """A weighted mean of scores: ``Weighted([(Cosine(), 0.3), (PairScorer(model), 0.7)])``."""

    def __init__(self, pairs: Iterable[tuple[Any, float]]):
        pairs = [(ev, float(w)) for ev, w in pairs]
        if not pairs or any(w < 0 or math.isnan(w) for _, w in pairs) or sum(w for _, w in pairs) <= 0:
            raise ValueError("Weighted needs (evaluator, weight) pairs with non-negative weights and a positive sum")
        self.pairs = pairs

    def bind(self, tier: Any) -> None:
        for ev, _ in self.pairs:
            _bind(ev, tier)

    def evaluate(self, query: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
        total = sum(w for _, w in self.pairs)
        return sum(w * score_of(ev, query, candidate) for ev, w in self.pairs) / total

    def __repr__(self) -> str:
        return f"Weighted({self.pairs!r})"
