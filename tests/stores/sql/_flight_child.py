"""A worker process for the SQL single-flight test: one ``Cache(store=URL).call`` of the request
named by PROMPT, started at an agreed wall-clock time. The provider appends this worker's name to
CALLS (one line per provider call); the answer is printed as one JSON line.

``python _flight_child.py URL START_AT PROMPT CALLS NAME [LEASE_S [hang]]``: ``hang`` makes the
provider never return (a leader to kill); LEASE_S sets ``shared_flights.lease_s``.
"""

from __future__ import annotations

import json
import sys
import time

import dejacache


def main() -> None:
    url, start_at, prompt, calls, name = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    cache = dejacache.Cache(store=url)
    assert cache.shared_flights is not None, "the SQL store keeps no flight locks"
    if len(sys.argv) > 6:
        cache.shared_flights.lease_s = float(sys.argv[6])
    hang = sys.argv[7:] == ["hang"]

    def provider(request: dict) -> dict:
        with open(calls, "a") as f:
            f.write(name + "\n")
        print(json.dumps({"name": name, "event": "provider"}), flush=True)
        time.sleep(3600 if hang else 0.5)  # a slow model: the others miss while this one works
        return {"answer": name}

    request = {"model": "m", "messages": [{"role": "user", "content": prompt}]}
    time.sleep(max(0.0, start_at - time.time()))
    got = cache.call(request, provider)
    print(json.dumps({"name": name, "event": "answer", "got": got}), flush=True)


if __name__ == "__main__":
    main()
