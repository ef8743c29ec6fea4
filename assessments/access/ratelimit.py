"""A fixed-window rate limit in the shared cache (locmem on one server, Redis on many)."""

from __future__ import annotations

import time

from django.core.cache import cache


def take(key: str, limit: int, window_seconds: int) -> int:
    """Use one of ``limit`` slots of the current window for ``key``. Returns 0 when one
    was free, else the seconds until the window ends."""
    now = int(time.time())
    start = now - now % window_seconds
    bucket = f"ratelimit:{key}:{start}"
    cache.add(bucket, 0, timeout=window_seconds + 5)
    try:
        used = cache.incr(bucket)
    except ValueError:  # evicted between add and incr: count this one as the first
        cache.set(bucket, 1, timeout=window_seconds + 5)
        used = 1
    if used <= limit:
        return 0
    return max(1, start + window_seconds - now)
