"""What the SQLite store and the SQL-database store share: key and argument checks, the
per-process counters, the batched access log (last access / hit counts written in batches, not
on every hit) and the choice of eviction victims."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from typing import Any

from .._core import key_of_text

EVICTIONS = ("lru", "lfu", "fifo")
#: Counters kept in memory per process (entries and bytes come from the table).
PROCESS_COUNTERS = ("hits", "misses", "stores", "evictions", "expirations")
HITS, MISSES, STORES, EVICTIONS_I, EXPIRATIONS = range(5)


def key_bytes(key: str) -> bytes:
    """The 16 bytes of a key: 32 hex digits as they are, any other text hashed the way the
    in-process store hashes it (``_core.key_of_text``), so every store files a key alike."""
    if len(key) == 32:
        try:
            raw = bytes.fromhex(key)
        except (ValueError, TypeError):
            pass
        else:
            if len(raw) == 16:  # 32 characters made 16 bytes: hex digits only, no spaces
                return raw
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, not {type(key).__name__}")
    return bytes.fromhex(key_of_text(key))


def check_value(value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"value must be bytes (the encoded entry), not {type(value).__name__}")
    return value


def check_ttl(ttl: Any) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or math.isnan(ttl) or ttl < 0:
        raise ValueError(f"ttl must be a number of seconds >= 0 (or None for no expiry), not {ttl!r}")
    return float(ttl)


def check_options(max_entries: Any, max_bytes: Any, default_ttl: Any, eviction: Any) -> None:
    for name, cap in (("max_entries", max_entries), ("max_bytes", max_bytes)):
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
            raise ValueError(f"{name} must be an int >= 0 or None (no cap), not {cap!r}")
    if default_ttl is not None:
        check_ttl(default_ttl)
    if eviction not in EVICTIONS:
        raise ValueError(f"eviction must be 'lru', 'lfu' or 'fifo', not {eviction!r}")


def trim_target(cap: int | None) -> int | None:
    """Where a trim stops: 10% under the cap, so the next puts do not trim again at once (for
    caps under 10 the trim is exact)."""
    return None if cap is None else cap - cap // 10


class Counters:
    """Hits, misses, stores, evictions and expirations per namespace, in this process. Each
    thread counts in its own rows (no lock on the hit path); ``snapshot`` adds them up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._tables: list[dict[str, list[int]]] = []

    def add(self, namespace: str, which: int, n: int = 1) -> None:
        try:
            self._local.rows[namespace][which] += n
        except (AttributeError, KeyError):
            rows = getattr(self._local, "rows", None)
            if rows is None:
                rows = self._local.rows = {}
                with self._lock:
                    self._tables.append(rows)
            rows.setdefault(namespace, [0, 0, 0, 0, 0])[which] += n

    def snapshot(self) -> dict[str, list[int]]:
        with self._lock:
            tables = list(self._tables)
        out: dict[str, list[int]] = {}
        for rows in tables:
            for namespace, row in list(rows.items()):
                total = out.setdefault(namespace, [0, 0, 0, 0, 0])
                for i, v in enumerate(list(row)):
                    total[i] += v
        return out


def merge_stats(
    counters: dict[str, list[int]], sizes: Iterable[tuple[str, int, int]]
) -> list[tuple[str, dict[str, int]]]:
    """``stats()`` rows: this process's counters with the table's entries and bytes."""
    table = {ns: (int(n), int(b)) for ns, n, b in sizes}
    out = []
    for ns in sorted(set(counters) | set(table)):
        row = counters.get(ns, [0, 0, 0, 0, 0])
        stats = dict(zip(PROCESS_COUNTERS, row))
        stats["entries"], stats["bytes"] = table.get(ns, (0, 0))
        out.append((ns, stats))
    return out


class AccessLog:
    """Reads to write back later: for LRU the newest access time of an entry (only when the
    stored one is older than ``granularity`` seconds), for LFU the hits to add. Flushed in one
    batch when ``batch`` entries are pending, when ``interval_s`` has passed since the last flush
    (checked on reads), and before every trim, so the hit path never writes."""

    def __init__(self, eviction: str, granularity: float = 1.0, batch: int = 256, interval_s: float = 1.0):
        self.eviction = eviction
        self.granularity = granularity
        self.batch = batch
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, bytes], list[float]] = {}
        self._last_flush = time.monotonic()

    def note(self, namespace: str, kb: bytes, now: float, last_access: float) -> bool:
        """Records one read; True when the caller should flush now."""
        if self.eviction == "fifo":
            return False
        if self.eviction == "lru" and now - last_access < self.granularity:
            return time.monotonic() - self._last_flush > self.interval_s and bool(self._pending)
        with self._lock:
            item = self._pending.get((namespace, kb))
            if item is None:
                self._pending[(namespace, kb)] = [now, 1.0]
            else:
                item[0] = max(item[0], now)
                item[1] += 1.0
            n = len(self._pending)
        return n >= self.batch or time.monotonic() - self._last_flush > self.interval_s

    def take(self) -> list[tuple[str, bytes, float, int]]:
        """The pending updates as ``(namespace, key, last_access, hits)``, and forgets them."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        return [(ns, kb, la, int(h)) for (ns, kb), (la, h) in pending.items()]

    def __bool__(self) -> bool:
        return bool(self._pending)


def pick_victims(
    rows: Iterable[tuple[Any, bytes, int]],
    keep: tuple[str, bytes] | None,
    drop_entries: int,
    drop_bytes: int,
) -> list[tuple[Any, bytes, int]]:
    """From rows ``(namespace, key, size)`` in eviction order, the first ones that remove at
    least ``drop_entries`` entries and ``drop_bytes`` bytes, skipping ``keep`` (the entry just
    written)."""
    out: list[tuple[Any, bytes, int]] = []
    got_entries = got_bytes = 0
    for ns, kb, size in rows:
        if got_entries >= drop_entries and got_bytes >= drop_bytes:
            break
        if keep is not None and (ns, bytes(kb)) == keep:
            continue
        out.append((ns, kb, size))
        got_entries += 1
        got_bytes += int(size)
    return out


def sqlite_path_of_url(url: str) -> str:
    """``sqlite:///relative/path`` -> ``relative/path``; ``sqlite:////abs/path`` -> ``/abs/path``
    (SQLAlchemy's convention); a plain path is returned as it is."""
    if not url.startswith("sqlite:"):
        return url
    rest = url[len("sqlite:") :]
    if not rest.startswith("///"):
        raise ValueError(f"a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path, not {url!r}")
    return rest[3:].split("?", 1)[0]
