"""sentence-transformers models, when that library (and torch) is installed."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from ._base import EmbedderUnavailableError, check_texts, unit_rows


class SentenceTransformerEmbedder:
    """A ``sentence_transformers.SentenceTransformer``, given as an object or a name/path.

    A name is loaded with ``local_files_only=True``: dejacache never downloads a model, so the
    model must already be in the local Hugging Face cache or at the given path.

    >>> e = SentenceTransformerEmbedder("all-MiniLM-L6-v2")  # doctest: +SKIP
    """

    def __init__(self, model: Any, *, batch_size: int = 32) -> None:
        if isinstance(model, str):
            if importlib.util.find_spec("sentence_transformers") is None:
                raise EmbedderUnavailableError(
                    "sentence-transformers is not installed: pip install sentence-transformers "
                    "(or use the default MiniLMEmbedder, which needs no torch)"
                )
            from sentence_transformers import SentenceTransformer

            name = model
            model = SentenceTransformer(model, local_files_only=True)
        else:
            if not hasattr(model, "encode"):
                raise TypeError("model must be a model name/path or an object with encode(), like SentenceTransformer")
            name = type(model).__name__
        dim = model.get_sentence_embedding_dimension() if hasattr(model, "get_sentence_embedding_dimension") else None
        if not dim:
            dim = int(np.asarray(model.encode(["dimension probe"])).shape[-1])
        self._model = model
        self.dim = int(dim)
        self.name = f"sentence-transformers:{name}"
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = check_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        return unit_rows(vectors, len(texts), self.dim, self.name)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(name={self.name!r}, dim={self.dim})"
