"""Text normalisation before embedding. Public as :func:`dejacache.preprocess.normalize_text`."""

from __future__ import annotations

import re

_CONTRACTIONS = {
    "won't": "will not",
    "can't": "cannot",
    "n't": " not",
    "'re": " are",
    "'s": " is",
    "'m": " am",
    "'ll": " will",
    "'ve": " have",
    "'d": " would",
}
_CONTRACTION = re.compile(r"(won't|can't|n't|'re|'s|'m|'ll|'ve|'d)\b", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """What the semantic tier embeds by default: contractions spelled out, curly quotes
    straightened, runs of whitespace collapsed, trailing ``?.!`` dropped. These are the
    surface differences that cost paraphrases the most similarity: with all-MiniLM-L6-v2,
    "What's the capital of France?" vs "what is the capital city of France" rises from
    0.885 to 0.960 (measured; notes/semantic.md).

    >>> normalize_text("What's   the capital of France?")
    'What is the capital of France'
    """
    text = text.replace("\u2019", "'")
    text = _CONTRACTION.sub(lambda m: _CONTRACTIONS[m.group(1).lower()], text)
    return _SPACES.sub(" ", text).strip().rstrip("?.! ")
