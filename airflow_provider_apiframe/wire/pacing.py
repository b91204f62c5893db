"""
Keeping a process under the API's request rate: a steady pace with a small burst.

The pace is shared by every client of one host and key in the process; it slows down when the API
answers 429 and recovers after.

apiframe counts submits, polls and list requests alike against one budget per key (500 a minute,
*assumed*, a connection setting). A sliding-window budget lets a whole minute's requests through in a
burst and then holds every request for the rest of the minute; a steady pace (the generic cell rate
algorithm, GCRA) spreads them instead, and no request waits longer than the rate really requires.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# Slow down to half the rate on each 429, to at most this many times the nominal interval.
SLOWEST = 16.0
# Every this many seconds without a 429, step the pace back toward nominal.
RECOVERY_PERIOD = 10.0
RECOVERY_STEP = 0.75


def default_burst(limit_per_minute: int) -> int:
    """Return how many requests may go at once: a few (a trigger's first poll, a submit), a small share."""
    return max(1, min(10, limit_per_minute // 20))


class Pacer:
    """
    Book each send at a steady interval, allowing ``burst`` sends at once after a quiet spell.

    With ``burst`` b and interval 60 / (limit - b), no 60-second window, wherever it starts, holds more
    than ``limit`` sends, so a server counting a sliding minute never refuses a paced client.
    """

    def __init__(self, limit_per_minute: int, burst: int | None = None) -> None:
        if limit_per_minute < 2:
            raise ValueError("a paced budget needs at least 2 requests a minute")
        self.limit = limit_per_minute
        self.burst = min(burst or default_burst(limit_per_minute), limit_per_minute - 1)
        self.nominal_interval = 60.0 / (limit_per_minute - self.burst)
        self.interval = self.nominal_interval
        # GCRA's theoretical arrival time: when the next send would be due at the steady pace.
        self._due = -math.inf
        self._slowed_at = -math.inf
        self._lock = threading.Lock()

    def state(self) -> dict[str, float]:
        """Everything the pace depends on, to keep it where other processes share it."""
        return {"due": self._due, "interval": self.interval, "slowed_at": self._slowed_at}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take up a pace kept elsewhere; a missing or unreadable value starts that part afresh."""
        try:
            self._due = float(state.get("due", -math.inf))
            self.interval = min(
                max(float(state.get("interval", self.nominal_interval)), self.nominal_interval),
                self.nominal_interval * SLOWEST,
            )
            self._slowed_at = float(state.get("slowed_at", -math.inf))
        except (TypeError, ValueError):
            self._due, self.interval, self._slowed_at = -math.inf, self.nominal_interval, -math.inf

    def reserve(self, now: float) -> float:
        """Book the next send; return how long to wait (seconds, 0 if it may go now) before making it."""
        with self._lock:
            self._recover(now)
            due = max(self._due, now)
            send_at = max(now, due - (self.burst - 1) * self.interval)
            self._due = due + self.interval
            return send_at - now

    def headroom(self, now: float) -> Headroom:
        """Return what the pace allows now, booking nothing: its rate, and the wait of a send booked now."""
        with self._lock:
            self._recover(now)
            wait = max(0.0, self._due - (self.burst - 1) * self.interval - now)
            return Headroom(1.0 / self.interval, wait)

    def rate_limited(self, now: float, retry_after: float | None, sent_at: float) -> None:
        """Halve the pace and hold sends as the API asked: it answered 429 to a send made at ``sent_at``."""
        with self._lock:
            # 429s to sends booked before the last slowdown say nothing new about the slower pace.
            if sent_at > self._slowed_at:
                self.interval = min(self.interval * 2, self.nominal_interval * SLOWEST)
                self._slowed_at = now
            if retry_after:
                self._due = max(self._due, now + retry_after + (self.burst - 1) * self.interval)

    @property
    def rate_per_minute(self) -> float:
        """The current pace, in sends a minute."""
        return 60.0 / self.interval

    def _recover(self, now: float) -> None:
        if self.interval <= self.nominal_interval:
            return
        periods = math.floor((now - self._slowed_at) / RECOVERY_PERIOD)
        if periods > 0:
            self.interval = max(self.nominal_interval, self.interval * RECOVERY_STEP**periods)
            self._slowed_at += periods * RECOVERY_PERIOD


@dataclass(frozen=True)
class Headroom:
    """How much a budget can take now: sends a second at its current pace, and how long one would wait."""

    rate: float
    # Seconds a send booked now would wait: sends already booked (by anyone on the budget) come first.
    wait: float


@dataclass(frozen=True)
class Booking:
    """A send booked with a budget: how long to wait before making it, and when that is on its clock."""

    wait: float
    send_at: float


class Budget(Protocol):
    """What a transport paces its sends with: one process's pace, or one shared by many."""

    # Whether booking talks to another process (and so must not run on an event loop's thread).
    blocking: bool

    def book(self) -> Booking:
        """Book the next send."""

    def refused(self, retry_after: float | None, booking: Booking) -> None:
        """Slow down because the API answered the booked send with 429."""

    def headroom(self) -> Headroom:
        """Return what the budget can take now, booking nothing."""


class LocalBudget:
    """The pace of one process, on its monotonic clock."""

    blocking = False

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    def book(self) -> Booking:
        """Book the next send on this process's pace."""
        now = time.monotonic()
        wait = self.pacer.reserve(now)
        return Booking(wait, now + wait)

    def refused(self, retry_after: float | None, booking: Booking) -> None:
        """Slow this process's pace down after a 429 to the booked send."""
        self.pacer.rate_limited(time.monotonic(), retry_after, booking.send_at)

    def headroom(self) -> Headroom:
        """Return what this process's pace can take now."""
        return self.pacer.headroom(time.monotonic())
