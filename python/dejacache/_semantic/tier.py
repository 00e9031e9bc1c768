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
from .._hit import Hit
from ..evaluation import AllOf, Cosine, _bind, score_of
from ..postprocess import First, first
from ..preprocess import Extraction, PreprocessError, extract, last_content, normalize_text
from .config import Semantic, default_evaluator, default_threshold
from .entries import EMPTY_ID, Candidate, Entry, Gone, Probe, entry_of_payload, payload_of, vector_id
from .vectors import SEMANTIC_INDEX_EF, SEMANTIC_INDEX_M, open_vectors  # noqa: F401 - M and ef: benches read them here

log = logging.getLogger("dejacache")


_SWEEP_MIN = 1024
#: texts per embedder call when many are embedded at once (Cache.put_many)
EMBED_BATCH = 256
#: entries a bulk store handles per hold of the tier's lock
STORE_CHUNK = 2048


class SemanticTier:
    """The semantic tier of one Cache (built by ``Cache(semantic=...)``; not used directly)."""

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

    # -- embedding --------------------------------------------------------------------------

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
                    else:
                        shared_stale.append(vid)
                continue
            try:
                response, meta = decode(blob)
            except ValueError as exc:
                log.warning("dejacache: dropping unreadable entry %s in %r: %s", entry.key, ns, exc)
                self._store.remove(entry.key, ns)
                if local:
                    stale.append((vid, entry))
                else:
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

    # -- writing ----------------------------------------------------------------------------

    def _add(self, ids: np.ndarray, rows: np.ndarray, scope: str, entries: Sequence[Entry], bulk: bool = False) -> None:
        """Adds vectors to the index; a shared store gets each entry's payload beside its vector.
        ``bulk``: many at once (``add_many``: a store may build its index on several threads)."""
        if self._shared:
            self.index.add(ids, rows, namespace=scope, payloads=[payload_of(e) for e in entries])  # type: ignore[call-arg]
        elif bulk:
            self.index.add_many(ids, rows, namespace=scope)
        else:
            self.index.add(ids, rows, namespace=scope)

    def store(self, probe: Probe, key: str) -> None:
        """Adds the vector of an entry just written to the exact store under ``key``."""
        with self._lock:
            scope, vid, entry = self._register(probe, key)
            try:
                self._add(np.asarray([vid], dtype=np.uint64), probe.vector[None, :], scope, [entry])
            except BaseException:
                self._unregister(scope, vid, entry)
                raise
            if len(self._entries) > 2 * len(self._store) + _SWEEP_MIN:
                self.sweep()

    def _register(self, probe: Probe, key: str) -> tuple[str, int, Entry]:
        """Files the entry of ``key`` under its probe's scope, dropping the vector it had
        before (caller holds the lock and adds the vector next)."""
        ns, scope, vid = probe.namespace, probe.scope, vector_id(key)
        old_scope = self._scopes.get((ns, key))
        if old_scope is not None:
            self._remove_vector(old_scope, vid)
        if (scope, vid) in self._entries:
            self._remove_vector(scope, vid)
        # The entry goes in before the vector: a search that finds the vector must find
        # its entry, or it would take the vector for a stale one.
        entry = Entry(ns, key, probe.ext.text, probe.ext.embed)
        self._entries[(scope, vid)] = entry
        self._scopes[(ns, key)] = scope
        return scope, vid, entry

    def _unregister(self, scope: str, vid: int, entry: Entry) -> None:
        """Undoes :meth:`_register` when the vector could not be added."""
        del self._entries[(scope, vid)]
        del self._scopes[(entry.namespace, entry.key)]

    def store_many(self, items: Sequence[tuple[Probe, str]]) -> None:
        """:meth:`store` for many ``(probe, key)`` pairs of distinct entries: one ``add`` per
        scope and chunk. The tier's lock is taken per chunk of STORE_CHUNK, so a bulk load
        never holds up other threads' stores for more than one chunk's insert."""
        failed: BaseException | None = None
        for start in range(0, len(items), STORE_CHUNK):
            try:
                self._store_chunk(items[start : start + STORE_CHUNK])
            except Exception as exc:  # noqa: BLE001 - later chunks still get their vectors
                failed = failed or exc
        if failed is not None:
            raise failed

    def _store_chunk(self, items: Sequence[tuple[Probe, str]]) -> None:
        if not items:
            return
        vectors = np.stack([p.vector for p, _ in items])
        # One row the index refuses (NaN, or zero length under cosine) would fail its whole
        # scope's add: leave such rows out here, as put() would lose only that one.
        usable = np.isfinite(vectors).all(axis=1) & (np.einsum("ij,ij->i", vectors, vectors) > 0)
        if not usable.all():
            log.warning(
                "dejacache: %d vectors not stored: the embedder returned NaN, infinite or zero rows",
                int((~usable).sum()),
            )
        by_scope: dict[str, list[tuple[int, Entry, int]]] = {}  # scope -> (vid, entry, row of vectors)
        failed: BaseException | None = None
        with self._lock:
            for row, ((probe, key), ok) in enumerate(zip(items, usable.tolist())):
                if ok:
                    scope, vid, entry = self._register(probe, key)
                    by_scope.setdefault(scope, []).append((vid, entry, row))
            for scope, filed in by_scope.items():
                ids = np.asarray([f[0] for f in filed], dtype=np.uint64)
                rows = vectors[[f[2] for f in filed]]
                try:
                    self._add(ids, rows, scope, [f[1] for f in filed], bulk=True)
                except Exception as exc:  # noqa: BLE001 - the other scopes still get theirs
                    failed = failed or exc
                    for vid, entry, _ in filed:
                        self._unregister(scope, vid, entry)
            if len(self._entries) > 2 * len(self._store) + _SWEEP_MIN:
                self.sweep()
        if failed is not None:
            raise failed

    def _remove_vector(self, scope: str, vid: int) -> None:
        entry = self._entries.pop((scope, vid), None)
        if entry is not None and self._scopes.get((entry.namespace, entry.key)) == scope:
            del self._scopes[(entry.namespace, entry.key)]
        self.index.remove(np.asarray([vid], dtype=np.uint64), namespace=scope)

    def _drop(self, scope: str, seen: list[tuple[int, Entry | None]]) -> None:
        """Removes vectors found stale, unless their entry changed since (a concurrent store)."""
        with self._lock:
            gone = []
            for vid, entry in seen:
                if self._entries.get((scope, vid)) is not entry:
                    continue
                if entry is not None:
                    del self._entries[(scope, vid)]
                    if self._scopes.get((entry.namespace, entry.key)) == scope:
                        del self._scopes[(entry.namespace, entry.key)]
                gone.append(vid)
            if gone:
                self.index.remove(np.asarray(gone, dtype=np.uint64), namespace=scope)

    def _drop_shared(self, scope: str, vids: list[int]) -> None:
        """Removes vectors of a shared store whose entry (stored by another process) is gone,
        unless this process has since filed an entry under the same id."""
        with self._lock:
            gone = [vid for vid in vids if (scope, vid) not in self._entries]
            if gone:
                self.index.remove(np.asarray(gone, dtype=np.uint64), namespace=scope)

    def forget(self, namespace: str, key: str) -> None:
        """Removes the vector of the entry ``key`` (after a delete)."""
        with self._lock:
            scope = self._scopes.get((namespace, key))
            if scope is not None:
                self._remove_vector(scope, vector_id(key))

    def clear(self, namespace: str | None = None) -> None:
        """Removes every vector of ``namespace`` (all namespaces when None)."""
        with self._lock:
            by_scope: dict[str, list[tuple[int, Entry | None]]] = {}
            for (scope, vid), entry in self._entries.items():
                if namespace is None or entry.namespace == namespace:
                    by_scope.setdefault(scope, []).append((vid, entry))
            for scope, seen in by_scope.items():
                self._drop(scope, seen)

    def sweep(self) -> int:
        """Drops vectors whose exact entry is gone; returns how many."""
        now = self._clock()
        with self._lock:
            by_scope: dict[str, list[tuple[int, Entry | None]]] = {}
            for (scope, vid), entry in list(self._entries.items()):
                if not self._store.contains(entry.key, entry.namespace, now):
                    by_scope.setdefault(scope, []).append((vid, entry))
            for scope, seen in by_scope.items():
                self._drop(scope, seen)
        return sum(len(v) for v in by_scope.values())

    def __len__(self) -> int:
        return len(self._entries)

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
