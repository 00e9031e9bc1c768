"""Deterministic stand-ins for a model, used only by the tests: an embedder whose similarities
are known in advance, and a brute-force vector store that exercises the vector_store protocol."""

from __future__ import annotations

import re
import zlib

import numpy as np

_STOP = {"the", "a", "an", "of", "is", "what", "whats", "please", "tell", "me", "city"}
_SYNONYMS = {"what's": "what is", "whats": "what is"}


def words(text: str) -> list[str]:
    text = text.lower()
    for a, b in _SYNONYMS.items():
        text = text.replace(a, b)
    return [w for w in re.findall(r"[a-z0-9]+", text) if w not in _STOP]


class WordEmbedder:
    """Bag of content words, each word a fixed random direction: texts with the same content
    words (ignoring stop words and case) have cosine 1.0; one word in common out of two ~0.5."""

    name = "test-words"

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.calls = 0
        self.texts_embedded = 0

    def _word(self, w: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(w.encode()))
        v = rng.standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed(self, texts: list) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            if isinstance(t, bytes):
                t = t.decode("latin-1")
            ws = words(t) or [t]
            for w in ws:
                out[i] += self._word(w)
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


class BruteForceStore:
    """A tiny exact vector store with namespaces (tests the ``vector_store=`` protocol)."""

    def __init__(self):
        self.spaces: dict = {}
        self.searches = 0

    def add(self, ids, vectors, namespace=None):
        space = self.spaces.setdefault(namespace, {})
        for i, v in zip(np.asarray(ids, np.uint64).tolist(), np.asarray(vectors, np.float32)):
            space[i] = v.copy()

    def remove(self, ids, namespace=None):
        space = self.spaces.get(namespace, {})
        return sum(space.pop(i, None) is not None for i in np.asarray(ids, np.uint64).tolist())

    def search(self, queries, k, ef=None, namespace=None):
        self.searches += 1
        q = np.asarray(queries, np.float32)
        ids = np.full((len(q), k), 2**64 - 1, np.uint64)
        scores = np.full((len(q), k), np.nan, np.float32)
        space = self.spaces.get(namespace, {})
        if space:
            keys = list(space)
            mat = np.stack([space[i] for i in keys])
            sims = q @ mat.T
            for r in range(len(q)):
                order = np.argsort(-sims[r])[:k]
                ids[r, : len(order)] = [keys[j] for j in order]
                scores[r, : len(order)] = sims[r, order]
        return ids, scores

    def __len__(self):
        return sum(len(s) for s in self.spaces.values())
