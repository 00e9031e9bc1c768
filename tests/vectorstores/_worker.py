"""One process of the shared-store test: a Cache on a shared exact store and a shared vector
store, driven by JSON lines on stdin (put / get / delete), answering one JSON line each.

Usage: python _worker.py EXACT_STORE_URL VECTOR_STORE_URL   (os.environ/NAME accepted for both)
"""

from __future__ import annotations

import json
import sys

from dejacache import Cache, Semantic
from dejacache.embedders import HashingEmbedder


def chat(text: str) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


def main() -> None:
    exact_url, vector_url = sys.argv[1], sys.argv[2]
    # Deterministic in every process and quick to start (loading the offline model took ~5 s a
    # worker, four workers a run); what is tested is the sharing, not the model.
    embedder = HashingEmbedder()
    cache = Cache(store=exact_url, semantic=Semantic(embedder=embedder, vector_store=vector_url))
    print(json.dumps({"ready": type(cache.semantic.index.store).__name__, "embedder": embedder.name}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        ns = cmd.get("ns")
        if cmd["op"] == "put":
            cache.put(chat(cmd["text"]), cmd["answer"], namespace=ns)
            out: dict = {"ok": True}
        elif cmd["op"] == "get":
            hit = cache.get(chat(cmd["text"]), namespace=ns)
            out = {"hit": None if hit is None else {"source": hit.source, "response": hit.response}}
        elif cmd["op"] == "delete":
            out = {"deleted": cache.delete(chat(cmd["text"]), namespace=ns)}
        else:
            out = {"error": f"unknown op {cmd['op']!r}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
