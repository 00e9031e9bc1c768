"""The semantic tier: answers a request that means the same as an earlier one.

Pipeline (GPTCache's stages): pre-process -> embed -> search the vector index within the
request's scope -> evaluate each candidate -> keep those reaching the threshold -> post-process
picks one -> the answer is read through the exact store by its key.

Why each rule holds:

- **Scope.** The pre-processor says which part of the request it embedded; the rest (model,
  temperature, tools, response format, seed, system prompt, earlier turns not embedded) is hashed
  with the namespace into a scope, which is the vector index namespace searched. A hit can only
  differ from the stored request in the embedded wording.
- **Answers live in the exact store.** A vector maps to an entry key (its id is the low 64 bits
  of the 128-bit key); the answer is read with ``EntryStore.get`` under the request's namespace,
  so an entry that was evicted, expired or deleted is never served, whatever the index still
  holds. Vectors whose entry is gone are dropped when a search meets them, and in a sweep when
  vectors outnumber entries twice over.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .._codec import decode
from .._controls import Controls
from .._core import Hit
from .._shared_flight import lock_capable
from ..evaluation import AllOf, Cosine, _bind, score_of
from ..postprocess import First, first
from ..preprocess import last_content
from .config import Semantic, default_evaluator, default_threshold
from .embedding import TierEmbedding
from .entries import EMPTY_ID, Candidate, Entry, Gone, Probe, entry_of_payload
from .vectors import open_vectors
from .writing import TierWrites

log = logging.getLogger("dejacache")


class SemanticTier(TierEmbedding, TierWrites):
    """The semantic tier of one Cache (built by ``Cache(semantic=...)``; not used directly).

    This module builds it and reads (``lookup``, ``search``, statistics); pre-processing and
    embedding are in ``embedding`` (``TierEmbedding``), adding and dropping vectors in
    ``writing`` (``TierWrites``), and its vector store is opened in ``vectors``.
    """

    def __init__(self, config: Any, *, store: Any, schema: Any, clock: Callable[[], float], savings: Any):
        """``store``: the exact tier's entry store (answers are read through it by key);
        ``schema``: the key schema that hashes a request's scope; ``savings``: where hits are
        counted (``Savings.record``)."""
        if config is True:
            config = Semantic()
        elif isinstance(config, Mapping):
            config = Semantic(**config)
        elif not isinstance(config, Semantic):
            raise TypeError(f"semantic must be True, a dejacache.Semantic or a dict of its arguments, not {config!r}")
        self._store = store
        self._schema = schema
        self._clock = clock
        self._savings = savings
        embedder = config.embedder
        if embedder is None:
            from ..embedders import default_embedder

            embedder = default_embedder()
        self.embedder = embedder
        own = getattr(config.evaluator, "threshold", None)  # a calibrated evaluator knows its own
        if config.threshold is not None:
            self.threshold = config.threshold
        elif isinstance(own, (int, float)) and not isinstance(own, bool) and 0.0 <= own <= 1.0:
            self.threshold = float(own)
        else:
            self.threshold = default_threshold(embedder)
        self.evaluator = config.evaluator if config.evaluator is not None else default_evaluator(embedder)
        self.normalize = config.normalize
        self.max_text_chars = config.max_text_chars
        self.preprocess = config.preprocess if config.preprocess is not None else last_content
        self.postprocess = config.postprocess if config.postprocess is not None else first
        self.top_k = config.top_k
        self.index, self._entries = open_vectors(
            config.vector_store, store=store, embedder=embedder, normalize=self.normalize
        )
        # With the default post-processor, a search stops at the first candidate that passes
        # when the store lists its results best first; another store's results are sorted first.
        self._ordered = self.index.ordered_results
        # A store shared by processes keeps each vector's entry (key, text) beside it, so a
        # process that did not store a vector can still evaluate and serve it.
        self._search_payloads: Any = getattr(self.index, "search_payloads", None)
        self._shared = callable(self._search_payloads)
        # Other processes' vectors are no business of this one: in a store on a server, a
        # vector this process cannot place is skipped, never removed as stale.
        self._remote = bool(getattr(self.index, "remote", False))
        # Another process's vector whose entry this exact store lacks is dropped only when the
        # exact store is one processes share (it keeps flight locks: SQLite, Redis, SQL): an
        # in-process store lacks every other process's entries, so the vector is skipped.
        self._drop_others = lock_capable(store)
        if self._remote and not self._drop_others:
            log.warning(
                "dejacache: the vector store (%s) is shared by processes but the exact store is this "
                "process's own: other processes' vectors are skipped here, not served; share the "
                "exact store too (store='redis://...', 'sqlite:///...' or a SQL URL)",
                type(self.index).__name__,
            )
        self._scopes: dict[tuple[str, str], str] = {(e.namespace, e.key): sc for (sc, _), e in self._entries.items()}
        self._lock = threading.RLock()
        # namespace -> [semantic hits, lookups without a hit, candidate reads found, candidate reads missed]
        self._counts: dict[str, list[int]] = {}
        self._count_lock = threading.Lock()
        _bind(self.evaluator, self)

    def __repr__(self) -> str:
        return (
            f"SemanticTier(embedder={getattr(self.embedder, 'name', self.embedder)!r}, threshold={self.threshold}, "
            f"vectors={len(self._entries)})"
        )

    # -- reading ----------------------------------------------------------------------------

    def _count(self, namespace: str, hit: bool, reads: list[int]) -> None:
        if not hit and reads == [0, 0]:
            return  # changes no counter of stats(); a record per tenant name would grow unbounded
        with self._count_lock:
            c = self._counts.get(namespace)
            if c is None:
                c = self._counts[namespace] = [0, 0, 0, 0]
            c[0 if hit else 1] += 1
            c[2] += reads[0]
            c[3] += reads[1]

    def lookup(self, request: Any, ctl: Controls, now: float) -> tuple[Hit | None, Probe | None]:
        """A semantic hit for ``request`` (None if none) and its probe (None if not embeddable).
        Searches only when ``ctl.read``; the probe is returned either way, to store with."""
        probe = self.probe(request, ctl.namespace)
        if probe is None or not ctl.read:
            return None, probe
        return self.search(probe, ctl, now), probe

    def search(self, probe: Probe, ctl: Controls, now: float) -> Hit | None:
        ns, scope = probe.namespace, probe.scope
        payloads: Sequence[str | None]
        if self._shared:
            ids, sims, payloads = self._search_payloads(probe.vector, self.top_k, namespace=scope)
        else:
            ids, sims = self.index.search(probe.vector[None, :], self.top_k, namespace=scope)
            payloads = [None] * self.top_k
        query = {"text": probe.ext.text, "embedding": probe.vector}
        passing: list[dict[str, Any]] = []
        stale: list[tuple[int, Entry | None]] = []  # (id, the entry seen): dropped only if unchanged
        reads = [0, 0]  # found, missed
        threshold = self.threshold
        # When the score can be no higher than the similarity (Cosine, or AllOf starting with
        # it: the defaults), a candidate below the threshold is refused without any work.
        ev = self.evaluator
        capped = type(ev) is Cosine or (type(ev) is AllOf and type(ev.evaluators[0]) is Cosine)
        # With those and the default post-processor (the best score wins), candidates come in
        # falling similarity, so once one passes, a later one can only tie or lose: stop.
        best_only = capped and type(self.postprocess) is First
        found = list(zip(np.asarray(ids).reshape(-1).tolist(), np.asarray(sims).reshape(-1).tolist(), payloads))
        shared_stale: list[int] = []  # vectors another process stored, whose entry is gone
        if best_only and not self._ordered:
            found.sort(key=lambda f: -f[1] if f[1] == f[1] else math.inf)
        for vid, sim, payload in found:
            if best_only and passing and sim <= passing[0]["score"]:
                break
            if vid == EMPTY_ID or math.isnan(sim) or (capped and sim < threshold):
                continue
            entry = self._entries.get((scope, vid))
            local = entry is not None
            if entry is None and payload is not None:
                entry = entry_of_payload(payload, ns, vid)
            if entry is None:
                if not self._remote:
                    stale.append((vid, None))
                continue
            cand = Candidate(
                self._store, self.embed_one, entry, similarity=float(sim), key=entry.key, id=vid, scope=scope
            )
            cand.reading = (ns, now, ctl.max_age, reads)
            try:
                score = score_of(self.evaluator, query, cand)
                if score < threshold:
                    continue
                blob = cand.blob()
            except Gone as gone:
                if gone.stale:  # evicted, expired or deleted: never served, and dropped
                    if local:
                        stale.append((vid, entry))
                    elif self._drop_others:
                        shared_stale.append(vid)
                continue
            try:
                response, meta = decode(blob)
            except ValueError as exc:
                log.warning("dejacache: dropping unreadable entry %s in %r: %s", entry.key, ns, exc)
                self._store.remove(entry.key, ns)
                if local:
                    stale.append((vid, entry))
                elif self._drop_others:
                    shared_stale.append(vid)
                continue
            cand.update(score=score, response=response, meta=meta)
            passing.append(cand)
        if stale:
            self._drop(scope, stale)
        if shared_stale:
            self._drop_shared(scope, shared_stale)
        if not passing:
            self._count(ns, False, reads)
            return None
        passing.sort(key=lambda c: c["score"], reverse=True)
        chosen = self.postprocess(passing)
        if not isinstance(chosen, Mapping) or "response" not in chosen:
            raise TypeError("a post-processor must return one of the candidates it was given")
        self._count(ns, True, reads)
        if chosen["meta"]:
            self._savings.record(ns, chosen["meta"])
        return Hit(chosen["response"], chosen["key"], "semantic", chosen["age"], ns, chosen["score"], chosen["meta"])

    def neighbour_similarities(self, candidate: Mapping[str, Any], k: int) -> list[float]:
        """Similarities of a candidate's ``k`` nearest stored neighbours in its scope (itself excluded)."""
        ids, sims = self.index.search(
            np.asarray(candidate["embedding"], np.float32)[None, :], k + 1, namespace=candidate["scope"]
        )
        out = []
        for vid, sim in zip(np.asarray(ids).reshape(-1).tolist(), np.asarray(sims).reshape(-1).tolist()):
            if vid != EMPTY_ID and vid != candidate["id"] and not math.isnan(sim):
                out.append(float(sim))
        return out[:k]

    # -- statistics -------------------------------------------------------------------------

    def adjust_stats(self, per_ns: dict[str, dict[str, Any]]) -> None:
        """Counts semantic hits as hits (not as an exact miss plus a store read) in ``stats()``."""
        for counters in per_ns.values():
            counters.setdefault("semantic_hits", 0)
        with self._count_lock:
            counts = [(ns, list(c)) for ns, c in self._counts.items()]
        for ns, (hits, _misses, reads_found, reads_missed) in counts:
            found = per_ns.get(ns)
            if found is None:
                continue
            counters = found
            counters["hits"] += hits - reads_found
            counters["misses"] -= reads_missed + hits
            counters["semantic_hits"] = hits
