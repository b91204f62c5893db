"""
What a process learns about each model's jobs: how long they take, and what their progress means.

Every finished job a process sees (its own, or any on a ``GET /v2/jobs`` page) teaches its model's
duration, from the API's own ``createdAt`` and ``completedAt``. A job this process waited for also
teaches how far through its life each reported progress value came (the model's progress shape), so
front-loaded, stepped or stalling progress is read for what it is rather than as a straight line.
From both, ``ModelHistory.end_estimate`` gives the likely ages at which a running job ends.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from collections.abc import Iterable, Sequence

# Enough finished jobs to trust what they say; before that a job is paced from its own progress.
MIN_SAMPLES = 5
DURATIONS_KEPT = 256
SHARES_KEPT_PER_PROGRESS = 48
# How close two progress values must be to tell about each other, and the width of the kernel that
# weighs a duration by how well it explains the progress seen.
PROGRESS_NEIGHBOURHOODS = (3, 6, 12)
FRACTION_BANDWIDTH = 0.04


class ModelHistory:
    """Durations and progress shape of one model's finished jobs, bounded in memory, thread-safe."""

    def __init__(self) -> None:
        self._durations: deque[float] = deque(maxlen=DURATIONS_KEPT)
        # progress -> shares of their life the model's jobs had lived when they showed it
        self._shape: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, duration: float, sightings: Iterable[tuple[float, int]] = ()) -> None:
        """A finished job: its duration, and the (age, progress) pairs seen while it ran."""
        if not duration > 0 or not math.isfinite(duration):
            return
        with self._lock:
            self._durations.append(duration)
            for age, progress in sightings:
                if 0 <= age <= duration:
                    kept = self._shape.setdefault(progress, deque(maxlen=SHARES_KEPT_PER_PROGRESS))
                    kept.append(age / duration)

    @property
    def known_durations(self) -> int:
        return len(self._durations)

    @property
    def reports_progress(self) -> bool:
        """Whether this model's jobs were seen reporting progress (a reading is then worth a poll)."""
        return bool(self._shape)

    def end_estimate(self, age: float, progress: int | None) -> list[tuple[float, float]]:
        """
        Likely ages at which a job of this model that is ``age`` seconds old and still running ends.

        Returns (end age, weight) pairs sorted by end age, weights summing to 1; empty when the history
        says nothing useful (too few jobs, or the job has outlived every one of them). Each known
        duration longer than ``age`` is a candidate, weighed by how often the model's jobs showed
        ``progress`` at that share of their life.
        """
        with self._lock:
            if len(self._durations) < MIN_SAMPLES:
                return []
            longer = sorted(d for d in self._durations if d > age)
            shares = self._shares_at(progress) if progress is not None else []
        weights = [_density(age / d, shares) for d in longer] if shares else []
        total = sum(weights)
        if total > 0:
            return [(d, w / total) for d, w in zip(longer, weights, strict=True) if w > 0]
        if shares and age > 0:
            # The job is unlike every known length (a long one, say), but its progress still tells how
            # far through its life it is: its end, read from the model's shape alone.
            ends = sorted(age / share for share in shares if 0 < share < 1)
            return [(end, 1.0 / len(ends)) for end in ends]
        return [(d, 1.0 / len(longer)) for d in longer]

    def _shares_at(self, progress: int) -> list[float]:
        # Progress values seen rarely (the middle of a fast job) borrow from wider neighbourhoods.
        for radius in PROGRESS_NEIGHBOURHOODS:
            near = sorted(
                share
                for seen in range(progress - radius, progress + radius + 1)
                for share in self._shape.get(seen, ())
            )
            if len(near) >= MIN_SAMPLES:
                return near
        return []


def _density(share: float, shares: Sequence[float]) -> float:
    """How many seen shares lie near ``share`` (a box kernel, cheap and good enough to weigh with)."""
    lo = bisect.bisect_left(shares, share - FRACTION_BANDWIDTH)
    hi = bisect.bisect_right(shares, share + FRACTION_BANDWIDTH)
    return float(hi - lo)


def quantile(estimate: Sequence[tuple[float, float]], q: float) -> float:
    """The end age below which a share ``q`` of the weighted estimate lies."""
    total = 0.0
    for value, weight in estimate:
        total += weight
        if total >= q - 1e-12:
            return value
    return estimate[-1][0]


_histories: dict[str, ModelHistory] = {}
_histories_lock = threading.Lock()


def history_for(model: str | None) -> ModelHistory:
    """The process-wide history of ``model`` (jobs of unknown model share one history)."""
    with _histories_lock:
        return _histories.setdefault(model or "", ModelHistory())


def forget_all() -> None:
    """Start learning afresh (what a new process would know); for benchmarks and tests."""
    with _histories_lock:
        _histories.clear()
