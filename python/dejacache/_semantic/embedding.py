"""The semantic tier's first stages: pre-process a request and embed what it says.

``probe`` turns a request into a ``Probe``: the scope (the namespace and a hash of every part
of the request the pre-processor did not embed: only requests that differ in the embedded
wording alone share a scope) and the vector of the embedded text, normalised first when the
tier is set to. A request with nothing to embed, or a text over ``max_text_chars``, gets no
probe: the exact tier still serves it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..preprocess import Extraction, PreprocessError, extract, normalize_text
from .entries import Probe

log = logging.getLogger("dejacache")

#: texts per embedder call when many are embedded at once (Cache.put_many)
EMBED_BATCH = 256


class TierEmbedding:
    """``SemanticTier``'s pre-processing and embedding (a mixin: the tier sets the attributes)."""

    embedder: Any
    normalize: bool
    max_text_chars: int | None
    preprocess: Any
    _schema: Any

    def _embed_input(self, text: Any) -> Any:
        if self.normalize and isinstance(text, str):
            return normalize_text(text) or text
        return text

    def embed_one(self, text: Any) -> np.ndarray:
        if self.normalize and isinstance(text, str):  # _embed_input, inline: the lookup path
            text = normalize_text(text) or text
        vecs = np.asarray(self.embedder.embed([text]), dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[0] != 1:
            raise ValueError(f"the embedder returned shape {vecs.shape} for one text; it must return (n, dim)")
        return vecs[0]

    def embed_many(self, texts: Sequence[Any]) -> np.ndarray:
        """Rows for ``texts``, sent to the embedder EMBED_BATCH at a time (a model batches
        within each call; a bounded call keeps a remote embedder's request small)."""
        out = np.empty((len(texts), int(self.embedder.dim)), dtype=np.float32)
        for start in range(0, len(texts), EMBED_BATCH):
            chunk = [self._embed_input(t) for t in texts[start : start + EMBED_BATCH]]
            vecs = np.asarray(self.embedder.embed(chunk), dtype=np.float32)
            if vecs.shape != (len(chunk), out.shape[1]):
                raise ValueError(
                    f"the embedder returned shape {vecs.shape} for {len(chunk)} texts; "
                    f"it must return ({len(chunk)}, {out.shape[1]})"
                )
            out[start : start + len(chunk)] = vecs
        return out

    def _check_size(self, text: Any) -> None:
        cap = self.max_text_chars
        if cap is not None and isinstance(text, (str, bytes)) and len(text) > cap:
            raise PreprocessError(f"the text to embed has {len(text)} characters, over max_text_chars={cap}")

    def probe(self, request: Any, namespace: str) -> Probe | None:
        """Pre-processes and embeds ``request``; None when it has nothing this tier can embed."""
        try:
            ext = extract(self.preprocess, request)
            self._check_size(ext.embed)
            scope = f"{namespace}/{self._schema.key(ext.rest)}"
        except PreprocessError as exc:
            log.debug("dejacache: no semantic lookup for this request: %s", exc)
            return None
        return Probe(scope, namespace, ext, self.embed_one(ext.embed))

    def probe_many(self, requests: Sequence[tuple[Any, str]]) -> list[Probe | None]:
        """:meth:`probe` for many ``(request, namespace)`` pairs, their texts embedded in batches."""
        found: list[tuple[str, str, Extraction] | None] = []
        for request, namespace in requests:
            try:
                ext = extract(self.preprocess, request)
                self._check_size(ext.embed)
                found.append((f"{namespace}/{self._schema.key(ext.rest)}", namespace, ext))
            except PreprocessError as exc:
                log.debug("dejacache: no vector for this request: %s", exc)
                found.append(None)
        vectors = iter(self.embed_many([f[2].embed for f in found if f is not None]))
        return [None if f is None else Probe(f[0], f[1], f[2], next(vectors)) for f in found]
