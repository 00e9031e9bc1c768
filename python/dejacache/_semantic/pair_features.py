"""Features of a pair of texts for the calibrated pair evaluator.

Cosine similarity of sentence embeddings is blind to the details that decide whether two
questions ask the same thing: a different number ("best phone under $200" vs "$500"), a
dropped negation, a different question word ("how" vs "why"), a different name. These
features measure those details cheaply (tens of microseconds per pair, pure Python), and the
element-wise product and difference of the two embeddings let a linear model learn which
embedding directions matter for "same meaning" rather than "same topic".
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

import numpy as np

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_NUMBER = re.compile(r"^[0-9]")
_QUESTION_WORDS = frozenset(
    "what how why which who whom whose where when is are was were do does did can could should would will shall may might".split()
)
_NEGATIONS = frozenset(
    "not no never nothing nobody none nor cannot can't don't doesn't didn't isn't aren't wasn't weren't won't wouldn't shouldn't couldn't".split()
)
_STOPWORDS = frozenset(
    """a an the of to in on at for from by with about as into over after before between through
    and or but if then so than that this these those it its i me my we our you your he him his she
    her they them their be been being am is are was were do does did have has had having can could
    should would will shall may might must what how why which who whom whose where when there here
    any some all most more much many very just also only get got s""".split()
)

#: names of the hand-made features, in the order :func:`lexical_features` returns them
LEXICAL_FEATURES: tuple[str, ...] = (
    "cosine",
    "cosine_sq",
    "word_jaccard",
    "content_jaccard",
    "content_only_in_one",
    "char3_jaccard",
    "sequence_ratio",
    "length_ratio",
    "number_mismatch",
    "numbers_present",
    "negation_mismatch",
    "question_word_mismatch",
    "capital_mismatch",
    "same_text",
)


def _jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _char_ngrams(text: str, n: int = 3) -> set[str]:
    s = f" {text} "
    return {s[i : i + n] for i in range(max(1, len(s) - n + 1))}


class _Side:
    """What the features need from one text, computed once per text."""

    __slots__ = ("norm", "words", "content", "numbers", "negations", "question_word", "capitals")

    def __init__(self, text: str) -> None:
        lower = text.lower()
        words = _WORD.findall(lower)
        self.norm = " ".join(words)
        self.words = set(words)
        self.content = self.words - _STOPWORDS
        self.numbers = {w.replace(",", "") for w in words if _NUMBER.match(w)}
        self.negations = sum(1 for w in words if w in _NEGATIONS or w.endswith("n't")) % 2
        # "what's" asks what: look at the word before any apostrophe.
        self.question_word = next((q for w in words if (q := w.split("'")[0]) in _QUESTION_WORDS), "")
        # Capitalised words after the first are a cheap stand-in for names and products.
        self.capitals = {w.lower() for w in _WORD.findall(text)[1:] if w[:1].isupper()}


def lexical_features(a: str, b: str, similarity: float) -> np.ndarray:
    """The :data:`LEXICAL_FEATURES` of a pair, float64, given their embeddings' cosine."""
    x, y = _Side(a), _Side(b)
    content_union = len(x.content | y.content)
    lengths = (len(x.words), len(y.words))
    return np.array(
        [
            similarity,
            similarity * similarity,
            _jaccard(x.words, y.words),
            _jaccard(x.content, y.content),
            len(x.content ^ y.content) / (content_union + 1.0),
            _jaccard(_char_ngrams(x.norm), _char_ngrams(y.norm)),
            SequenceMatcher(None, x.norm, y.norm, autojunk=False).ratio(),
            min(lengths) / max(max(lengths), 1),
            float(x.numbers != y.numbers),
            float(bool(x.numbers or y.numbers)),
            float(x.negations != y.negations),
            float(x.question_word != y.question_word),
            len(x.capitals ^ y.capitals) / (len(x.capitals | y.capitals) + 1.0),
            float(x.norm == y.norm),
        ],
        dtype=np.float64,
    )


def embedding_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Element-wise product and absolute difference of two unit embeddings (2 * dim values).

    The product's sum is the cosine; weighting its terms lets the model find the directions
    along which agreement means "same question" rather than "same topic"."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return np.concatenate([u * v, np.abs(u - v)], axis=-1)
