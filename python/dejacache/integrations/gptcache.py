"""Bring a GPTCache data directory into a dejacache cache: ``import_gptcache(directory, cache)``.

GPTCache's SQL data manager keeps one row per cached question in ``<prefix>_question`` (the
text its pre-processor produced, soft-deleted rows flagged ``deleted = 1``) and its answers in
``<prefix>_answer`` (``answer_type`` 0 = text); its FAISS vector store keeps the vectors in an
``IDMap,Flat`` index, ``faiss.index``, under the questions' ids. Both are read directly, with
the standard library's sqlite3 and (when the index is there) faiss: GPTCache itself need not be
installed, and nothing is unpickled (GPTCache's ``map`` manager, ``data_map.txt``, is a pickle
and is refused).

Each live question with a text answer becomes one entry: by default the request
``{"model": model, "messages": [{"role": "user", "content": question}]}`` and, as its answer, an
OpenAI chat completion carrying the answer text (what GPTCache's OpenAI adapter returned on a
hit). ``request=`` and ``response=`` choose other shapes. When a FAISS index is present, only the
questions it holds are imported (those GPTCache could still serve), and its dimension is
reported. GPTCache's vectors come from GPTCache's embedding model: on a semantic cache the
questions are embedded again by the cache's own embedder (``put_many`` batches them).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._protocols import CacheLike

__all__ = ["import_gptcache", "ImportReport", "gptcache_threshold_to_cosine"]

_BATCH = 1000


@dataclass
class ImportReport:
    """What ``import_gptcache`` found and brought over."""

    imported: int = 0
    questions: int = 0
    deleted: int = 0
    not_text: int = 0
    not_in_index: int = 0
    sqlite_path: str = ""
    faiss_path: str | None = None
    faiss_vectors: int | None = None
    dimension: int | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"imported {self.imported} of {self.questions} GPTCache questions from {self.sqlite_path}"]
        skipped = [
            (self.deleted, "deleted in GPTCache"),
            (self.not_text, "without a text answer"),
            (self.not_in_index, "not in the FAISS index"),
        ]
        lines += [f"  skipped {n}: {why}" for n, why in skipped if n]
        if self.faiss_path is not None:
            lines.append(f"  FAISS index {self.faiss_path}: {self.faiss_vectors} vectors of dimension {self.dimension}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def gptcache_threshold_to_cosine(similarity_threshold: float, max_distance: float = 4.0) -> float:
    """The cosine similarity a GPTCache ``Config(similarity_threshold=t)`` demanded, for unit vectors.

    GPTCache's default evaluator (``SearchDistanceEvaluation(max_distance=4)``) scores a match
    ``max_distance - d2`` (``d2``: FAISS's squared L2 distance) and serves it when the score is
    at least ``max_distance * t``. For unit vectors ``d2 = 2 - 2 cos``, so a hit needs
    ``cos >= 1 - max_distance * (1 - t) / 2``: GPTCache's default 0.8 is cosine 0.6.

    >>> gptcache_threshold_to_cosine(0.8)
    0.6
    """
    if not 0 <= similarity_threshold <= 1:
        raise ValueError(f"GPTCache's similarity_threshold is from 0 to 1, not {similarity_threshold!r}")
    return round(max(-1.0, 1 - max_distance * (1 - similarity_threshold) / 2), 12)


def _default_request(model: str) -> Callable[[str], dict[str, Any]]:
    return lambda question: {"model": model, "messages": [{"role": "user", "content": question}]}


def _default_response(model: str) -> Callable[[str, int], dict[str, Any]]:
    def response(answer: str, question_id: int) -> dict[str, Any]:
        return {
            "id": f"gptcache-{question_id}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    return response


def _find_sqlite(path: str, prefix: str) -> str:
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no GPTCache data directory or SQLite file at {path!r}")
    candidates = [os.path.join(path, "sqlite.db")] + sorted(
        os.path.join(path, n) for n in os.listdir(path) if n.endswith((".db", ".sqlite", ".sqlite3"))
    )
    for candidate in candidates:
        if os.path.isfile(candidate) and _has_tables(candidate, prefix):
            return candidate
    if os.path.isfile(os.path.join(path, "data_map.txt")):
        raise ValueError(
            f"{path!r} holds GPTCache's 'map' data manager (data_map.txt, a pickle): dejacache never unpickles. "
            "Export it from GPTCache into its SQLite manager (get_data_manager(CacheBase('sqlite'), ...)) first"
        )
    raise FileNotFoundError(f"no SQLite file with a {prefix}_question table in {path!r} (GPTCache's is sqlite.db)")


def _has_tables(db: str, prefix: str) -> bool:
    try:
        with _connect(db) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        return False
    return {f"{prefix}_question", f"{prefix}_answer"} <= names


def _connect(db: str) -> sqlite3.Connection:
    # Read only: the GPTCache directory is never changed.
    return sqlite3.connect(f"file:{os.path.abspath(db)}?mode=ro", uri=True)


def _faiss_ids(path: str, report: ImportReport) -> set[int] | None:
    """The ids a GPTCache FAISS index holds, or None when it cannot be read."""
    try:
        import faiss
    except ImportError:
        report.notes.append("faiss is not installed (pip install 'dejacache[faiss]'): the index was not read")
        return None
    index = faiss.read_index(path)
    report.faiss_path, report.faiss_vectors, report.dimension = path, int(index.ntotal), int(index.d)
    if not hasattr(index, "id_map"):
        report.notes.append(f"{type(index).__name__} keeps no ids: every live question imported")
        return None
    return {int(i) for i in faiss.vector_to_array(index.id_map)}


def import_gptcache(
    directory: str | os.PathLike[str],
    cache: CacheLike,
    *,
    model: str = "gpt-3.5-turbo",
    request: Callable[[str], Any] | None = None,
    response: Callable[[str, int], Any] | None = None,
    namespace: str | None = None,
    table_prefix: str = "gptcache",
    use_index: bool = True,
) -> ImportReport:
    """Reads a GPTCache data directory (or its SQLite file) into ``cache``; returns a report.

    Args:
        directory: GPTCache's ``data_dir`` (holding ``sqlite.db`` and ``faiss.index``) or the
            SQLite file itself.
        cache: the ``dejacache.Cache`` to fill (any store; semantic caches embed the questions).
        model: the model name the default request and response carry (GPTCache keys no model).
        request: ``question -> request`` (default: one user message to ``model``).
        response: ``(answer_text, gptcache_id) -> response`` (default: an OpenAI chat completion).
        namespace: the tenant the entries go to (default: the cache's own).
        table_prefix: GPTCache's ``table_name`` prefix (default ``gptcache``).
        use_index: read ``faiss.index`` when present and import only the questions it holds.
    """
    if not table_prefix.isidentifier():
        raise ValueError(f"table_prefix must be a plain SQL name such as 'gptcache', not {table_prefix!r}")
    path = os.fspath(directory)
    report = ImportReport(sqlite_path=_find_sqlite(path, table_prefix))
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    index_path = os.path.join(folder, "faiss.index")
    live_ids = _faiss_ids(index_path, report) if use_index and os.path.isfile(index_path) else None
    make_request = request or _default_request(model)
    make_response = response or _default_response(model)
    q, a = f"{table_prefix}_question", f"{table_prefix}_answer"
    batch: list[tuple[Any, Any, dict[str, Any]]] = []
    keys: set[str] = set()  # a question GPTCache holds twice is one entry (the later answer)
    with _connect(report.sqlite_path) as conn:
        rows = conn.execute(
            f"SELECT q.id, q.question, q.deleted, "
            f"(SELECT a.answer FROM {a} a WHERE a.question_id = q.id AND a.answer_type = 0 ORDER BY a.id LIMIT 1) "
            f"FROM {q} q ORDER BY q.id"
        )
        for qid, question, deleted, answer in rows:
            report.questions += 1
            if deleted:
                report.deleted += 1
            elif answer is None or not isinstance(question, str):
                report.not_text += 1
            elif live_ids is not None and qid not in live_ids:
                report.not_in_index += 1
            else:
                meta = {"imported_from": "gptcache", "gptcache_id": qid}
                batch.append((make_request(question), make_response(answer, qid), meta))
                if len(batch) >= _BATCH:
                    keys.update(cache.put_many(batch, namespace=namespace))
                    batch = []
    if batch:
        keys.update(cache.put_many(batch, namespace=namespace))
    report.imported = len(keys)
    return report
