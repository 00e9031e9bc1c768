"""What the semantic tier keeps per vector and shows evaluators: the entry a vector stands for
(and its payload in a store shared by processes), a request's probe, and a candidate."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _core
from ..preprocess import Extraction

#: The id the vector index returns in slots it could not fill.
EMPTY_ID = 2**64 - 1

_HEX = frozenset("0123456789abcdef")  # the digits of the core's keys


def vector_id(key: str) -> int:
    """The vector id of an entry key: the low 64 bits of its 128-bit hash."""
    if len(key) != 32 or not _HEX.issuperset(key):  # a key_func's own key: hash it to hex first
        key = _core.key_of_text(key)
    vid = int(key[16:], 16)
    return vid - 1 if vid == EMPTY_ID else vid


class Probe:
    """One request, pre-processed and embedded: what a lookup found out, reused to store."""

    __slots__ = ("scope", "namespace", "ext", "vector")

    def __init__(self, scope: str, namespace: str, ext: Extraction, vector: np.ndarray):
        self.scope, self.namespace, self.ext, self.vector = scope, namespace, ext, vector


class Entry:
    __slots__ = ("namespace", "key", "text", "embed_text")

    def __init__(self, namespace: str, key: str, text: Any, embed_text: Any):
        self.namespace, self.key, self.text, self.embed_text = namespace, key, text, embed_text


def payload_of(entry: Entry) -> str:
    """What a shared vector store keeps beside a vector: the entry's namespace, key and texts
    (JSON; a text that is not JSON data goes as its ``str``)."""
    doc: dict[str, Any] = {"n": entry.namespace, "k": entry.key, "t": entry.text}
    if entry.embed_text is not entry.text:
        doc["e"] = entry.embed_text
    return json.dumps(doc, ensure_ascii=False, default=str)


def entry_of_payload(payload: str, namespace: str, vid: int) -> Entry | None:
    """The entry a shared store's payload describes, or None when it does not belong to this
    namespace and id (a foreign or damaged payload is never served)."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("n") != namespace or not isinstance(doc.get("k"), str):
        return None
    key = doc["k"]
    if vector_id(key) != vid:
        return None
    text = doc.get("t")
    return Entry(namespace, key, text, doc.get("e", text))


class Gone(Exception):
    """The candidate's exact entry cannot be served (``stale``: it no longer exists at all)."""

    def __init__(self, stale: bool):
        self.stale = stale


class Candidate(dict):
    """A candidate as evaluators see it. Its ``"embedding"`` and ``"age"`` are computed only if
    asked for: most candidates are refused on similarity alone, without touching the store."""

    reading: tuple = ()

    def __init__(self, store: Any, embed_one: Callable[[Any], np.ndarray], entry: Entry, **fields: Any):
        super().__init__(text=entry.text, **fields)
        self._store, self._embed_one, self._entry = store, embed_one, entry
        self._found: tuple[bytes, float] | None = None

    def blob(self) -> bytes:
        """The stored answer, read through the exact store by key (raises Gone)."""
        if self._found is None:
            ns, now, max_age, reads = self.reading
            store, key = self._store, self._entry.key
            found = store.get(key, ns, now, max_age)
            if found is None:
                reads[1] += 1
                raise Gone(stale=not store.contains(key, ns, now))
            reads[0] += 1
            self._found = found
            self["age"] = now - found[1]
        return self._found[0]

    def __missing__(self, name: str) -> Any:
        if name == "embedding":
            vec = self._embed_one(self._entry.embed_text)
            self["embedding"] = vec
            return vec
        if name == "age":
            self.blob()
            return self["age"]
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default
