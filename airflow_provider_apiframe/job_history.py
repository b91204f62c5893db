"""
What a process learns about each model's jobs: how long they take, and how far to trust their pace.

Every finished job a process sees (its own, or any on a ``GET /v2/jobs`` page) teaches its model's
duration, from the API's own ``createdAt`` and ``completedAt``. A job this process waited for also
teaches how its progress misled: at each reading, the end its pace so far predicted against the end
that came. Front-loaded progress (the pace promises an early end), coarse steps, a stall at 99, or time
spent QUEUED before any progress (the pace from creation promises a late end) each leave their own
pattern of such misses, learned per model and per progress, and ``ModelHistory.end_estimate`` corrects
a running job's own pace by them.
"""

from __future__ import annotations

import bisect
import math
import statistics
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

# Enough finished jobs (or readings) to trust what they say; before that a job is paced on its own.
MIN_SAMPLES = 5
DURATIONS_KEPT = 256
MISSES_KEPT = 1024
# How many learned misses, of the readings nearest in progress, correct one prediction.
NEIGHBOURS = 12
# Each known duration stands for a small log-normal spread around it (weights of a normal at these
# points), so that twenty jobs describe a smooth distribution, tails included, not twenty points.
KERNEL = ((-2.0, 0.135), (-1.0, 0.607), (0.0, 1.0), (1.0, 0.607), (2.0, 0.135))
MIN_BANDWIDTH = 0.03
# A job older than all but this share of the model's (smoothed) durations is late: they no longer place
# its end (the jobs learned first are the short ones, and a tail of a few is noise).
TAIL_SHARE = 0.05
# How near a known duration must be to an end to vouch for it.
DENSITY_WINDOW = 0.1

# (age in seconds, progress 0-99) of one reading of a running job
Reading = tuple[float, int]
Estimate = list[tuple[float, float]]


@dataclass(frozen=True)
class PacePrediction:
    """Where a job's progress so far says it ends, if it keeps its pace."""

    # The reading the prediction runs from: the first that showed the highest progress so far.
    anchor_age: float
    progress: int
    end_age: float
    # Paced from the job's creation (one reading), not between two readings.
    from_creation: bool

    def corrected(self, miss: float) -> float:
        """The end age had the remaining time been ``miss`` times what the pace said."""
        return self.anchor_age + miss * (self.end_age - self.anchor_age)


def pace_prediction(readings: Sequence[Reading]) -> PacePrediction | None:
    """
    The end the readings' pace predicts: from the first reading of the highest progress, back to the
    earliest reading with any progress (or to the job's creation); None without progress.

    Repeated readings of one value (a stall) leave the prediction where the value first showed, so a
    stalled job is not predicted to end sooner with every reading.
    """
    anchor: Reading | None = None
    for reading in readings:
        if reading[1] > 0 and (anchor is None or reading[1] > anchor[1]):
            anchor = reading
    if anchor is None or anchor[0] <= 0:
        return None
    base = next((r for r in readings if 0 < r[1] < anchor[1] and r[0] < anchor[0]), None)
    base_age, base_progress = base if base is not None else (0.0, 0)
    pace = (anchor[1] - base_progress) / (anchor[0] - base_age)
    return PacePrediction(anchor[0], anchor[1], anchor[0] + (100 - anchor[1]) / pace, base is None)


class ModelHistory:
    """Durations and pace misses of one model's finished jobs, bounded in memory, thread-safe."""

    def __init__(self) -> None:
        self._durations: deque[float] = deque(maxlen=DURATIONS_KEPT)
        # (from creation, progress, miss): remaining time as it came over remaining time as predicted
        self._misses: deque[tuple[bool, int, float]] = deque(maxlen=MISSES_KEPT)
        # The durations spread by the kernel, sorted by end age; rebuilt after a new duration.
        self._smoothed: list[tuple[float, float]] | None = None
        self._lock = threading.Lock()

    def record(self, duration: float, readings: Sequence[Reading] = ()) -> None:
        """A finished job: its duration, and the (age, progress) readings seen while it ran."""
        if not duration > 0 or not math.isfinite(duration):
            return
        misses = []
        for seen in range(1, len(readings) + 1):
            prediction = pace_prediction(readings[:seen])
            if prediction is None or prediction.anchor_age != readings[seen - 1][0]:
                continue  # no pace yet, or a repeat of a value already learned from
            predicted = prediction.end_age - prediction.anchor_age
            if predicted > 0 and duration >= prediction.anchor_age:
                misses.append(
                    (
                        prediction.from_creation,
                        prediction.progress,
                        (duration - prediction.anchor_age) / predicted,
                    )
                )
        with self._lock:
            self._durations.append(duration)
            self._misses.extend(misses)
            self._smoothed = None

    @property
    def known_durations(self) -> int:
        return len(self._durations)

    @property
    def reports_progress(self) -> bool:
        """Whether this model's jobs were seen reporting progress (a reading is then worth a poll)."""
        return bool(self._misses)

    def end_estimate(self, age: float, readings: Sequence[Reading] = ()) -> Estimate:
        """
        Likely ages at which a job of this model, ``age`` seconds old and still running, ends.

        Returns (end age, weight) pairs sorted by end age, weights summing to 1; empty when the history
        says nothing useful about this job: too little learned, or the job outlived nearly every likely
        end (it is then late, and polled as such). A job that has shown no progress is placed by the
        model's durations longer than ``age``; one that has, by its own pace corrected by the misses
        learned near its progress, each end weighed by how usual that length is for the model. Without
        learned misses its own pace tells more than durations blind to its progress: empty.
        """
        prediction = pace_prediction(readings)
        if prediction is None:
            return self._durations_beyond(age)
        misses = self._misses_near(prediction)
        if len(misses) < MIN_SAMPLES:
            return []
        paced = sorted(end for end in map(prediction.corrected, misses) if end > age)
        if not paced:
            return []
        weights = [self._duration_density(end) for end in paced]
        total = sum(weights)
        if total > 0:
            return [(end, w / total) for end, w in zip(paced, weights, strict=True) if w > 0]
        # No known duration vouches for any of them (a pace from a few per cent says little).
        return (
            self._durations_beyond(age)
            if self.known_durations >= MIN_SAMPLES
            else [(end, 1.0 / len(paced)) for end in paced]
        )

    def _duration_density(self, end: float) -> float:
        """The weight of the model's smoothed durations within a few per cent of ``end`` (1 if unknown)."""
        smoothed = self._smoothed_durations()
        if not smoothed:
            return 1.0
        lo = bisect.bisect_left(smoothed, (end * (1 - DENSITY_WINDOW), -math.inf))
        hi = bisect.bisect_right(smoothed, (end * (1 + DENSITY_WINDOW), math.inf))
        return sum(weight for _, weight in smoothed[lo:hi])

    def _misses_near(self, prediction: PacePrediction) -> list[float]:
        with self._lock:
            alike = [
                (abs(p - prediction.progress), miss)
                for kind, p, miss in self._misses
                if kind == prediction.from_creation
            ]
        alike.sort(key=lambda pair: pair[0])
        return [miss for _, miss in alike[:NEIGHBOURS]]

    def _smoothed_durations(self) -> list[tuple[float, float]]:
        with self._lock:
            if len(self._durations) < MIN_SAMPLES:
                return []
            if self._smoothed is None:
                self._smoothed = _smooth(self._durations)
            return self._smoothed

    def _durations_beyond(self, age: float) -> Estimate:
        smoothed = self._smoothed_durations()
        kept = smoothed[bisect.bisect_right(smoothed, (age, math.inf)) :]
        total = sum(weight for _, weight in kept)
        if total <= TAIL_SHARE * sum(weight for _, weight in smoothed):
            return []  # longer than nearly every job of the model: the tail says little
        return [(end, weight / total) for end, weight in kept]


def _smooth(durations: Sequence[float]) -> list[tuple[float, float]]:
    """Each duration spread over the kernel in log space, with a bandwidth by Silverman's rule."""
    logs = [math.log(d) for d in durations]
    bandwidth = max(MIN_BANDWIDTH, 1.06 * statistics.pstdev(logs) * len(logs) ** -0.2)
    return sorted((math.exp(log + z * bandwidth), weight) for log in logs for z, weight in KERNEL)


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
