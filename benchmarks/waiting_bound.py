"""
What a waiter that knew the emulator's own model of a job could do: the yardstick for ``waiting_policy.py``.

It knows what no client can: that lengths are lognormal with the emulator's median and sigma, that each
job spends a uniform 10-30 % of its life QUEUED, and the exact progress shape. After every poll it keeps
the (length, QUEUED share) pairs that would have answered exactly what the API answered (a grid
posterior), and polls next where the expected cost is least: one request, plus ``LATE_COST`` if the job
ends more than a tolerance before the poll, plus one more request if it has not ended by then. It is not
a proven optimum (that lookahead is one step), only a close estimate of what the targets allow.
"""

from __future__ import annotations

import math

import numpy as np

from airflow_provider_apiframe.emulator.jobs import Job as EmulatedJob
from airflow_provider_apiframe.emulator.jobs import JobStatus as EmulatedStatus
from airflow_provider_apiframe.emulator.progress import QUEUED_SHARE_RANGE, progress_value

# The detection delay a poll aims within: the p95 targets, with and without progress.
TOLERANCE = {True: 0.95, False: 2.9}
LATE_COST = 2.0
LENGTHS = 600
SHARES = 21
# progress_value tabulated over the PROCESSING share, so that a whole grid is read at once
TABLE_STEPS = 10_000


class ModelKnowingWaiter:
    """Polls one shape's jobs knowing their lengths' distribution, QUEUED share and progress shape."""

    def __init__(self, shape: str, median: float, sigma: float) -> None:
        self.shape = shape
        lengths = np.exp(np.linspace(math.log(median) - 5 * sigma, math.log(median) + 5 * sigma, LENGTHS))
        shares = np.linspace(*QUEUED_SHARE_RANGE, SHARES)
        self.length, self.share = np.meshgrid(lengths, shares, indexing="ij")
        density = np.exp(-0.5 * ((np.log(lengths) - math.log(median)) / sigma) ** 2)  # per log length
        self.prior = density[:, None] * np.ones_like(self.share)
        self.lengths = lengths
        table = [progress_value(shape, i / TABLE_STEPS) for i in range(TABLE_STEPS + 1)]
        self.table = np.array([-1 if value is None else value for value in table])
        self.tolerance = TOLERANCE[shape != "none"]

    def wait(self, job: EmulatedJob, round_trip: float) -> tuple[int, float]:
        """(requests including the submit, detection delay) for ``job``."""
        weights = self.prior.copy()
        age, polls = 0.0, 0
        while True:
            age = self._next_poll(weights, age)
            polls += 1
            state = job.progress_at(job.created_at + age)
            if state.status is EmulatedStatus.COMPLETED:
                return 1 + polls, age + round_trip - job.duration
            weights = weights * self._consistent(age, state.status, state.progress)
            if weights.sum() <= 0:  # a grid too coarse for what was seen: keep only "still running"
                weights = self.prior * (self.length > age)

    def _next_poll(self, weights: np.ndarray, age: float) -> float:
        by_length = weights.sum(axis=1)
        cumulative = np.cumsum(by_length) / by_length.sum()
        candidates = age + np.arange(0.3, 60.0, 0.05)
        ended = np.interp(candidates, self.lengths, cumulative, left=0.0, right=1.0)
        late = np.interp(candidates - self.tolerance, self.lengths, cumulative, left=0.0, right=1.0)
        return float(candidates[int(np.argmin(LATE_COST * late + (1.0 - ended)))])

    def _consistent(self, age: float, status: EmulatedStatus, progress: int | None) -> np.ndarray:
        queued_for = self.share * self.length
        running = self.length > age
        if status is EmulatedStatus.QUEUED:
            return running & (age < queued_for)
        processing = running & (age >= queued_for)
        share = np.clip((age - queued_for) / (self.length - queued_for), 0.0, 1.0)
        seen = self.table[(share * TABLE_STEPS).astype(int)]
        return processing & (seen == (-1 if progress is None else progress))
