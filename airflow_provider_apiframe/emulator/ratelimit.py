"""Requests per API key over a sliding 60-second window."""

from __future__ import annotations

from collections import defaultdict, deque

WINDOW = 60.0


class SlidingWindowLimiter:
    """Grant each key at most ``per_minute`` requests in any 60 seconds; None grants every request."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)

    def reset(self) -> None:
        """Forget every request counted so far."""
        self._hits.clear()

    def acquire(self, key: str, now: float) -> float | None:
        """
        Take a slot for ``key``: ``None`` when granted, else the seconds until one frees up.

        Refused requests take no slot, so waiting as told is always enough.
        """
        if self.per_minute is None:
            return None
        hits = self._hits[key]
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return hits[0] + WINDOW - now
        hits.append(now)
        return None
