"""Virtual keys made at once through several workers sharing a store: none is lost from the list
(the index's read-modify-write holds the store's lock, which every worker sees)."""

from __future__ import annotations

import threading

from dejacache.proxy._keys import Keys


def test_keys_created_at_once_by_four_workers_are_all_listed(tmp_path):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    workers = [Keys("sk-master", url) for _ in range(4)]  # one Keys per worker process
    made: list[str] = []

    def create(keys: Keys, tenant: str) -> None:
        for i in range(40):
            made.append(keys.create(f"{tenant}-{i}", None, None)["id"])

    threads = [threading.Thread(target=create, args=(k, f"team{n}")) for n, k in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(made) == 160
    for keys in workers:
        assert sorted(r["id"] for r in keys.list()) == sorted(made)
    revoked = made[::2]

    def revoke(keys: Keys, ids: list[str]) -> None:
        for key_id in ids:
            assert keys.revoke(key_id)

    threads = [threading.Thread(target=revoke, args=(k, revoked[n::4])) for n, k in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r["id"] for r in workers[0].list()) == sorted(made[1::2])
