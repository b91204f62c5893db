"""
Keeping a process under the API's request rate, so that many tasks polling at once meet no 429 storm.

apiframe counts submits and polls alike against one budget per key (500 a minute, *assumed*, a
connection setting). Every hook and trigger of a process that uses the same host and key shares one
``Pacer``: a triggerer that polls hundreds of jobs spreads its requests instead of bursting past the
limit. Separate processes (workers, several triggerers) each get the whole budget: set the setting
lower when they share a key.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque

WINDOW_SECONDS = 60.0


class Pacer:
    """A sliding window like the server's: at most ``limit`` sends in any ``window`` seconds."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._sends: deque[float] = deque()
        self._lock = threading.Lock()

    def reserve(self, now: float) -> float:
        """Book the next send; return how long to wait before making it."""
        with self._lock:
            while self._sends and self._sends[0] <= now - self.window:
                self._sends.popleft()
            at = now if len(self._sends) < self.limit else self._sends[-self.limit] + self.window
            self._sends.append(at)
            return at - now


_pacers: dict[tuple[str, str, int], Pacer] = {}
_pacers_lock = threading.Lock()


def shared_pacer(base_url: str, api_key: str, limit: int) -> Pacer:
    # The key's digest, not the key, names the budget: nothing here should hold a secret longer.
    name = (base_url, hashlib.sha256(api_key.encode()).hexdigest()[:16], limit)
    with _pacers_lock:
        return _pacers.setdefault(name, Pacer(limit))
