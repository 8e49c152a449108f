"""Run by test_ratelimit in a child process: take slots from a shared budget, print when.

Usage: python limiter_worker.py <backend-uri> <token> <limit> <window_s> <start_at> <duration_s>
"""

from __future__ import annotations

import json
import sys
import time

from bria_dagster.client.ratelimit import RateLimiter
from bria_dagster.client.ratelimit_stores import open_store


def main() -> None:
    uri, token, limit, window, start_at, duration = sys.argv[1:7]
    limiter = RateLimiter(open_store(uri), token=token, limit=int(limit), window_s=float(window))
    taken: list[float] = []
    time.sleep(max(0.0, float(start_at) - time.time()))
    end = time.time() + float(duration)
    while time.time() < end:
        limiter.acquire("/v2/image/generate")
        taken.append(time.time())
    limiter.close()
    print(json.dumps(taken))


if __name__ == "__main__":
    main()
