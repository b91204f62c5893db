"""
What a process learns about each model's jobs: how long they take, and what their progress says.

Every finished job a process sees (its own, or any on a ``GET /v2/jobs`` page) teaches its model's
duration, from the API's own ``createdAt`` and ``completedAt``. A job this process waited for also
teaches, for each progress value it showed, how far through its life it was then (the reading's age
over the job's duration). ``ModelHistory.end_estimate`` turns a running job's readings into likely end
ages by Bayes' rule on a grid: the model's durations as the prior, and for each reading the share of
learned readings of that progress at that point of a job's life, over the share of all readings there
(the polls' own timing would otherwise count as evidence). Nothing assumes a shape: front-loaded
progress, coarse steps, a stall at 99, or a random time QUEUED (a reading of 0) are each read for what
they were seen to mean.
"""

from __future__ import annotations

import atexit
import bisect
import itertools
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_apiframe.waiting import history_file

# Enough finished jobs (or readings) to trust what they say; before that a job is paced on its own.
MIN_SAMPLES = 5
DURATIONS_KEPT = 256
FRACTIONS_KEPT = 1024
# Learned readings kept per progress value, all of which weigh a running job's reading of that value;
# where fewer are known, those of the nearest values join until there are NEIGHBOURS (more blur it,
# fewer make it noisy). A triggerer reading pages learns many readings of one job; 48 span many jobs.
FRACTIONS_PER_PROGRESS = 48
NEIGHBOURS = 12
# The newest readings of distinct progress that a job's estimate multiplies; older ones add little.
READINGS_USED = 3
# Half-width, in log of the life's share, of what counts as "at that point of a job's life".
FRACTION_WINDOW = 0.05
# Spacing, in log of the end age, of the grid an estimate is worked out on (and its size at most).
GRID_STEP = 0.01
GRID_POINTS = 400
# A process keeps what it learned in the model's history file at most this often.
SAVE_EVERY = 5.0
SNAPSHOT_VERSION = 1
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


def pace_prediction(readings: Sequence[Reading]) -> PacePrediction | None:
    """
    Predict a job's end from its readings' pace; None without progress.

    The pace runs from the first reading of the highest progress back to the earliest reading with any
    progress (or to the job's creation).

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


@dataclass(frozen=True)
class _Smoothed:
    """Smoothed durations sorted by end age, with running totals of their weights."""

    ends: list[float]
    cumulative: list[float]

    def weight_between(self, low: float, high: float) -> float:
        """Return the weight of the smoothed durations from ``low`` to ``high``."""
        return self.weight_before(bisect.bisect_right(self.ends, high)) - self.weight_before(
            bisect.bisect_left(self.ends, low)
        )

    def weight_before(self, index: int) -> float:
        """Return the weight of the first ``index`` smoothed durations."""
        return self.cumulative[index - 1] if index else 0.0


class ModelHistory:
    """
    Durations and progress readings of one model's finished jobs, bounded in memory, thread-safe.

    With a ``model``, it starts from what earlier processes kept in the model's history file and keeps
    what it learns there, at most every ``SAVE_EVERY`` seconds.
    """

    def __init__(self, model: str | None = None) -> None:
        self.model = model
        self._durations: deque[float] = deque(maxlen=DURATIONS_KEPT)
        # log(age / duration) of the readings of each progress value, and of all readings
        self._by_progress: dict[int, deque[float]] = {}
        self._fractions: deque[float] = deque(maxlen=FRACTIONS_KEPT)
        self._moved = False
        # Rebuilt lazily after something new is learned.
        self._smoothed: _Smoothed | None = None
        self._sorted_fractions: list[float] | None = None
        self._lock = threading.Lock()
        self._saved_at = -math.inf
        self._unsaved = False
        if model is not None:
            self._restore(history_file.load(model) or {})

    def record(self, duration: float, readings: Sequence[Reading] = ()) -> None:
        """Learn from a finished job: its duration, and the (age, progress) readings seen while it ran."""
        if not duration > 0 or not math.isfinite(duration):
            return
        learned = [(progress, math.log(age / duration)) for age, progress in readings if 0 < age < duration]
        with self._lock:
            self._durations.append(duration)
            for progress, fraction in learned:
                self._by_progress.setdefault(progress, deque(maxlen=FRACTIONS_PER_PROGRESS)).append(fraction)
                self._fractions.append(fraction)
                self._moved = self._moved or progress > 0
            self._smoothed = None
            self._sorted_fractions = None
            self._unsaved = True
        if time.monotonic() - self._saved_at >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        """Keep what this process learned in the model's history file, if it learned anything new."""
        with self._lock:
            if self.model is None or not self._unsaved:
                return
            self._saved_at, self._unsaved = time.monotonic(), False
            snapshot = self._snapshot()
        history_file.save(self.model, snapshot)

    def _snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "durations": list(self._durations),
            "by_progress": {str(progress): list(shares) for progress, shares in self._by_progress.items()},
            "fractions": list(self._fractions),
        }

    def _restore(self, snapshot: dict[str, Any]) -> None:
        """Take up what an earlier process kept; anything malformed is left out, as if never learned."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            return
        try:
            durations = [d for d in _finite(snapshot["durations"]) if d > 0]
            by_progress = {
                int(progress): _finite(shares)
                for progress, shares in snapshot["by_progress"].items()
                if 0 <= int(progress) < 100
            }
            fractions = _finite(snapshot["fractions"])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            return
        self._durations.extend(durations)
        for progress, shares in by_progress.items():
            self._by_progress[progress] = deque(shares, maxlen=FRACTIONS_PER_PROGRESS)
            self._moved = self._moved or (progress > 0 and bool(shares))
        self._fractions.extend(fractions)

    @property
    def known_durations(self) -> int:
        """How many durations of finished jobs are known."""
        return len(self._durations)

    def shortest_likely(self, share: float) -> float | None:
        """
        Return the job length that only ``share`` of the model's (smoothed) known durations fall short of.

        None until enough durations are known to say.
        """
        smoothed = self._smoothed_durations()
        if smoothed is None:
            return None
        index = bisect.bisect_left(smoothed.cumulative, share * smoothed.cumulative[-1])
        return smoothed.ends[min(index, len(smoothed.ends) - 1)]

    @property
    def reports_progress(self) -> bool:
        """Whether this model's jobs were seen reporting progress (a reading is then worth a poll)."""
        return self._moved

    def end_estimate(self, age: float, readings: Sequence[Reading] = ()) -> Estimate:
        """
        Likely ages at which a job of this model, ``age`` seconds old and still running, ends.

        Returns (end age, weight) pairs sorted by end age, weights summing to 1; empty when the history
        says nothing useful about this job: too little learned, readings that fit nothing learned, or a
        job that outlived nearly every likely end (it is then late, and polled as such). Without learned
        readings a job that shows progress is paced on its own: durations blind to its progress would
        overrule what it tells.
        """
        if len(self._fractions) >= MIN_SAMPLES and readings:
            return self._posterior(age, _first_of_each_progress(readings)[-READINGS_USED:])
        if pace_prediction(readings) is None:
            return self._durations_beyond(age)
        return []

    def _posterior(self, age: float, readings: Sequence[Reading]) -> Estimate:
        likelihoods = [(math.log(at), self._fractions_near(progress)) for at, progress in readings]
        every = self._all_fractions()
        # The latest end any reading allows: its age over the smallest share of life it was seen at.
        upper = max(log_at - fractions[0] for log_at, fractions in likelihoods) + 2 * FRACTION_WINDOW
        span = upper - math.log(age) if age > 0 else 0.0
        if span <= 0:
            return []
        points = min(GRID_POINTS, max(1, math.ceil(span / GRID_STEP)))
        smoothed = self._smoothed_durations()
        estimate = []
        for i in range(points):
            log_end = upper - span * (points - i - 0.5) / points
            weight = _density(smoothed, math.exp(log_end))
            for log_at, fractions in likelihoods:
                if weight <= 0:
                    break
                # P(progress | share of life) by Bayes: P(share | progress) / P(share), as seen
                weight *= _share_near(fractions, log_at - log_end) / (
                    _share_near(every, log_at - log_end) + 1 / len(every)
                )
            if weight > 0:
                estimate.append((math.exp(log_end), weight))
        total = sum(weight for _, weight in estimate)
        return [(end, weight / total) for end, weight in estimate]

    def _fractions_near(self, progress: int) -> list[float]:
        """Return the learned shares of life (log) of the readings nearest in progress, sorted."""
        near: list[float] = []
        with self._lock:
            for distance in itertools.count():
                if len(near) >= NEIGHBOURS or distance > 100:
                    break
                for value in {progress - distance, progress + distance}:
                    newest_first = reversed(self._by_progress.get(value, ()))
                    near.extend(itertools.islice(newest_first, FRACTIONS_PER_PROGRESS - len(near)))
        return sorted(near)

    def _all_fractions(self) -> list[float]:
        with self._lock:
            if self._sorted_fractions is None:
                self._sorted_fractions = sorted(self._fractions)
            return self._sorted_fractions

    def _smoothed_durations(self) -> _Smoothed | None:
        with self._lock:
            if len(self._durations) < MIN_SAMPLES:
                return None
            if self._smoothed is None:
                self._smoothed = _smooth(self._durations)
            return self._smoothed

    def _durations_beyond(self, age: float) -> Estimate:
        smoothed = self._smoothed_durations()
        if smoothed is None:
            return []
        first = bisect.bisect_right(smoothed.ends, age)
        previous, total = smoothed.weight_before(first), smoothed.cumulative[-1]
        beyond = total - previous
        if beyond <= TAIL_SHARE * total:
            return []  # longer than nearly every job of the model: the tail says little
        estimate = []
        for end, running in zip(smoothed.ends[first:], smoothed.cumulative[first:], strict=True):
            estimate.append((end, (running - previous) / beyond))
            previous = running
        return estimate


def _finite(values: Any) -> list[float]:
    """``values`` as floats, without NaN or infinities (ValueError, TypeError or OverflowError if not)."""
    return [value for value in map(float, values) if math.isfinite(value)]


def _first_of_each_progress(readings: Sequence[Reading]) -> list[Reading]:
    """Keep the reading where each progress value first showed: a repeat (a stall) adds only the job's age."""
    seen: set[int] = set()
    first = []
    for reading in readings:
        if reading[1] not in seen:
            seen.add(reading[1])
            first.append(reading)
    return first


def _share_near(sorted_logs: Sequence[float], centre: float) -> float:
    """Return the share of ``sorted_logs`` within the fraction window of ``centre``."""
    inside = bisect.bisect_right(sorted_logs, centre + FRACTION_WINDOW) - bisect.bisect_left(
        sorted_logs, centre - FRACTION_WINDOW
    )
    return inside / len(sorted_logs)


def _density(smoothed: _Smoothed | None, end: float) -> float:
    """Return the weight of the model's smoothed durations within a few per cent of ``end`` (1 if unknown)."""
    if smoothed is None:
        return 1.0
    return smoothed.weight_between(end * (1 - DENSITY_WINDOW), end * (1 + DENSITY_WINDOW))


def _smooth(durations: Sequence[float]) -> _Smoothed:
    """Each duration spread over the kernel in log space, with a bandwidth by Silverman's rule."""
    logs = [math.log(d) for d in durations]
    bandwidth = max(MIN_BANDWIDTH, 1.06 * statistics.pstdev(logs) * len(logs) ** -0.2)
    spread = sorted((math.exp(log + z * bandwidth), weight) for log in logs for z, weight in KERNEL)
    return _Smoothed([end for end, _ in spread], list(itertools.accumulate(weight for _, weight in spread)))


def quantile(estimate: Sequence[tuple[float, float]], q: float) -> float:
    """Return the end age below which a share ``q`` of the weighted estimate lies."""
    total = 0.0
    for value, weight in estimate:
        total += weight
        if total >= q - 1e-12:
            return value
    return estimate[-1][0]


_histories: dict[str, ModelHistory] = {}
_histories_lock = threading.Lock()


def history_for(model: str | None) -> ModelHistory:
    """
    Return the process-wide history of ``model``, read from its history file on first use.

    Jobs of unknown model share one history, kept in memory only.
    """
    with _histories_lock:
        if (key := model or "") not in _histories:
            _histories[key] = ModelHistory(model or None)
        return _histories[key]


@atexit.register
def save_all() -> None:
    """Keep what was learned since the last write, when the process ends."""
    with _histories_lock:
        histories = list(_histories.values())
    for history in histories:
        history.save()


def forget_all() -> None:
    """Forget what this process learned (a new process would start from the history files only)."""
    with _histories_lock:
        _histories.clear()
