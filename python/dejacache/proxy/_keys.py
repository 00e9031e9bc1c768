"""Who may call: the master key, and virtual keys kept hashed in the cache's store.

A virtual key (``sk-dc-...``, shown once when created) maps to a namespace (its tenant: entries
never cross namespaces) and to the cache controls its holder may send. Only its SHA-256 is
stored, as an entry of a reserved namespace in the configured store (so every worker on a
shared store sees it, and a revoke takes effect at once everywhere); an index entry lists the
keys for the admin routes. With the in-memory default, keys live as long as the worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

#: The namespace holding key records; clients can never name it.
KEYS_NAMESPACE = "dejacache-proxy-keys"
#: Controls a virtual key may be allowed; ``namespace`` never (the key fixes it).
CONTROLS = ("no-cache", "no-store", "ttl", "s-maxage", "use-cache")
_ALIASES = {"no_cache": "no-cache", "no_store": "no-store", "s_maxage": "s-maxage", "use_cache": "use-cache"}
_INDEX = {"dejacache.proxy": "virtual-key-index"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the master key (any namespace, every control), a virtual key (its
    namespace, its controls), or anyone when no master key is configured."""

    master: bool
    namespace: str | None = None
    controls: tuple[str, ...] = CONTROLS
    key_id: str | None = None


OPEN = Principal(master=False)
MASTER = Principal(master=True)


def control_name(name: str) -> str:
    return _ALIASES.get(name, name)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _record_request(digest: str) -> dict:
    return {"dejacache.proxy": "virtual-key", "sha256": digest}


class Keys:
    def __init__(self, master_key: str | None, store_url: str | None):
        from .._cache import Cache

        self.master_key = master_key
        store: Any = store_url  # a URL (or None: in memory)
        self.cache = Cache(max_entries=None, namespace=KEYS_NAMESPACE, store=store)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.master_key is not None

    def answers_inline(self, token: str | None) -> bool:
        """Whether ``principal(token)`` is answered without store I/O (no keys, no token, the
        master key, or keys kept in this process's memory)."""
        if self.master_key is None or not token or self.cache.in_process:
            return True
        return hmac.compare_digest(token.encode(), self.master_key.encode())

    def principal(self, token: str | None) -> Principal | None:
        """The caller a bearer token names; None when it names nobody (a 401)."""
        if self.master_key is None:
            return OPEN
        if not token:
            return None
        if hmac.compare_digest(token.encode(), self.master_key.encode()):
            return MASTER
        hit = self.cache.get(_record_request(_digest(token)))
        if hit is None or not isinstance(hit.response, dict):
            return None
        rec = hit.response
        return Principal(False, rec.get("namespace"), tuple(rec.get("controls") or ()), rec.get("id"))

    def _index_held(self) -> contextlib.AbstractContextManager:
        """The index's read-modify-write, exclusive across the workers sharing the store (its
        flight lock on the index's key); within one process ``_lock`` is enough."""
        shared = self.cache.shared_flights
        if shared is None:
            return contextlib.nullcontext()
        return shared.exclusive(KEYS_NAMESPACE, self.cache.key(_INDEX))

    def _index(self) -> dict:
        hit = self.cache.get(_INDEX)
        return dict(hit.response) if hit is not None and isinstance(hit.response, dict) else {}

    def create(self, namespace: str, controls: list[str] | None, alias: str | None) -> dict:
        """A new key (returned once, in ``key``) and its record."""
        if not isinstance(namespace, str) or not namespace or namespace == KEYS_NAMESPACE:
            raise ValueError(f"namespace must be a non-empty string other than {KEYS_NAMESPACE!r}")
        allowed = list(CONTROLS) if controls is None else [control_name(c) for c in controls]
        bad = [c for c in allowed if c not in CONTROLS]
        if bad:
            raise ValueError(f"unknown control {bad[0]!r}; a key may be allowed: {', '.join(CONTROLS)}")
        if alias is not None and not isinstance(alias, str):
            raise ValueError("alias must be a string")
        token = "sk-dc-" + secrets.token_urlsafe(32)
        digest = _digest(token)
        record = {
            "id": digest[:16],
            "namespace": namespace,
            "controls": allowed,
            "alias": alias,
            "created": int(time.time()),
        }
        with self._lock, self._index_held():
            self.cache.put(_record_request(digest), record)
            index = self._index()
            index[digest] = record
            self.cache.put(_INDEX, index)
        return {**record, "key": token}

    def list(self) -> list[dict]:
        return sorted(self._index().values(), key=lambda r: (r.get("created", 0), r.get("id", "")))

    def revoke(self, key_or_id: str) -> bool:
        """Removes a key, named by itself or by its id; True if there was one."""
        if not isinstance(key_or_id, str) or not key_or_id:
            raise ValueError("name the key to revoke by 'key' or 'id'")
        with self._lock, self._index_held():
            index = self._index()
            digest = _digest(key_or_id)
            if digest not in index:
                found = [d for d, rec in index.items() if rec.get("id") == key_or_id]
                digest = found[0] if found else digest
            removed = self.cache.delete(_record_request(digest))
            if index.pop(digest, None) is not None:
                self.cache.put(_INDEX, index)
                removed = True
        return removed

    def check_controls(self, who: Principal, controls: dict | None) -> str | None:
        """Why ``who`` may not send ``controls`` (a 403), or None."""
        if who.master or who.key_id is None or not controls:  # only virtual keys are restricted
            return None
        for name in controls:
            canon = control_name(str(name))
            if canon == "namespace":
                if who.namespace is not None and controls[name] != who.namespace:
                    return "this key's namespace is fixed; it may not name another"
                continue
            if canon not in who.controls:
                return (
                    f"this key may not use the cache control {name!r}; it may use: {', '.join(who.controls) or 'none'}"
                )
        return None

    def namespace_of(self, who: Principal, controls: dict | None) -> str | None:
        if who.namespace is not None:
            return who.namespace
        ns = controls.get("namespace") if controls else None
        if ns == KEYS_NAMESPACE:
            raise ValueError(f"namespace {KEYS_NAMESPACE!r} is reserved")
        return None
