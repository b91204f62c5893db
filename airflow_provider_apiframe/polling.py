"""
Waiting for a job: when to poll next, what a poll means, and the one event that ends the wait.

The trigger (async, on the triggerer) and the hook's blocking wait (sync, on a worker) both drive a
``JobWatch``; they differ only in how they sleep and send. The event is plain JSON so that it crosses the
trigger boundary unchanged, and ``result_from_event`` turns it into the task's return value or the typed
error the user sees, whichever path produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeError,
    ApiframeJobFailedError,
    ApiframeJobTimeoutError,
    ApiframeNotFoundError,
    ApiframeTransientError,
)
from airflow_provider_apiframe.job_history import MIN_SAMPLES, history_for, quantile
from airflow_provider_apiframe.jobs import Job, JobStatus

# Never poll one job faster than this, however close it seems to be to the end.
MIN_POLL_GAP = 0.5
# Imagen takes seconds, not milliseconds: a poll right after the submit only ever sees QUEUED.
FIRST_POLL_AFTER = 2.0
# Where a model reports progress, its first reading comes at this share of the earliest likely end:
# late enough to say much, early enough to place the next poll.
FIRST_READING_SHARE = 0.6
# Detection delay not worth another request: where the likely end is known this closely, one poll.
MIN_TOLERANCE = 0.8
# Polls are placed so that at most this share of the likely ends comes a tolerance or more before one.
EARLY_SHARE = 0.05
# A job that ran past its predicted end, or outlived every job of its model seen so far, is next polled
# after this share of its age: a stalled job is polled ever more slowly, never faster and faster, and
# a late one still often enough to be seen ending soon after it does.
LATE_SHARE = 0.15
SIGHTINGS_KEPT = 32

Event = dict[str, Any]


class Log(Protocol):
    """The part of a logger a wait uses: Airflow hands hooks and triggers loggers of several types."""

    def debug(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...

    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Sighting:
    """A running job's progress (0-99) as seen by a poll at ``at`` (epoch seconds)."""

    at: float
    progress: int


def pace_delay(sightings: Sequence[Sighting], created_at: float) -> float | None:
    """
    Seconds until the job ends if it keeps the pace its progress showed so far; None without a pace.

    The pace is the average over every sighting, not the last step: a job whose progress creeps, stalls
    or jumps is not taken to be about to end on its latest reading alone.
    """
    if not sightings:
        return None
    latest = sightings[-1]
    first = sightings[0]
    if latest.progress > first.progress and latest.at > first.at:
        pace = (latest.progress - first.progress) / (latest.at - first.at)
    elif latest.progress > 0 and latest.at > created_at:
        pace = latest.progress / (latest.at - created_at)
    else:
        return None
    return (100 - latest.progress) / pace


def estimate_delay(estimate: Sequence[tuple[float, float]], age: float) -> float:
    """
    When to poll a job ``age`` seconds old whose end age is distributed as ``estimate``.

    The tolerated detection delay grows with the spread of the estimate (a well-known end is polled
    right after it; a vague one less often), and the poll comes a tolerance after the earliest likely
    end, or at the latest likely end if that is sooner.
    """
    earliest, latest = quantile(estimate, EARLY_SHARE), quantile(estimate, 1 - EARLY_SHARE)
    tolerance = max(MIN_TOLERANCE, 0.25 * (latest - earliest))
    return min(earliest + tolerance, latest) - age


class JobWatch:
    """The state of one wait: the last status seen, the deadline, and when the next poll is worth it."""

    def __init__(
        self,
        job_id: str,
        *,
        poll_interval: float,
        deadline: float,
        submitted_at: float,
        log: Log,
        model: str | None = None,
    ) -> None:
        self.job_id = job_id
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.submitted_at = submitted_at
        self.log = log
        self.model = model
        # The API's createdAt once a poll has shown it; the submit time until then.
        self.created_at = submitted_at
        self.last_status: JobStatus | None = None
        self.progress: int | None = None
        self.sightings: list[Sighting] = []
        self.polls = 0
        # Whether the job outlived the end its own pace predicted.
        self.ran_late = False
        self._predicted_end: float | None = None

    def first_delay(self, now: float) -> float:
        """A fresh job is not worth asking about at once; a trigger resumed after a restart is."""
        return max(0.0, min(self._next_delay(now), self.deadline - now))

    def after_poll(self, outcome: Job | ApiframeError, now: float) -> Event | float:
        """The event that ends the wait, or how many seconds to sleep before the next poll."""
        self.polls += 1
        if isinstance(outcome, ApiframeError):
            if not isinstance(outcome, ApiframeTransientError):
                return error_event(self.job_id, _reason(outcome), str(outcome))
            self.log.warning("Polling job %s failed, will poll again: %s", self.job_id, outcome)
        else:
            if outcome.status != self.last_status:
                self.last_status = outcome.status
                self.log.info(
                    "Job %s is %s (progress %s)", self.job_id, outcome.status.value, outcome.progress
                )
            if outcome.status.is_terminal:
                self._learn(outcome)
                return terminal_event(outcome)
            self._see(outcome, now)
        if now >= self.deadline:
            return error_event(
                self.job_id,
                "timeout",
                f"Job {self.job_id} did not finish within the timeout "
                f"({self.deadline - self.submitted_at:.0f} s after submit); last status "
                f"{self.last_status.value if self.last_status else 'unknown'}.",
            )
        return min(max(MIN_POLL_GAP, self._next_delay(now)), self.deadline - now)

    def _see(self, job: Job, now: float) -> None:
        if job.created_at is not None:
            self.created_at = job.created_at
        self.model = job.model or self.model
        if self._predicted_end is not None and now >= self._predicted_end:
            self.ran_late = True
        self.progress = job.progress if job.progress is not None and 0 <= job.progress < 100 else None
        if self.progress is not None:
            self.sightings = [*self.sightings[-(SIGHTINGS_KEPT - 1) :], Sighting(now, self.progress)]

    def _learn(self, job: Job) -> None:
        duration = job.duration
        if duration is not None and job.status is JobStatus.COMPLETED:
            created = job.created_at if job.created_at is not None else self.created_at
            history_for(job.model or self.model).record(
                duration, [(s.at - created, s.progress) for s in self.sightings]
            )

    def _next_delay(self, now: float) -> float:
        age = now - self.created_at
        history = history_for(self.model)
        estimate = history.end_estimate(age, self.progress)
        self._predicted_end = None
        if estimate:
            # The estimate already knows the job outlived every earlier poll: no miss to count. Nor is
            # it held to poll_interval: that bounds the wait where nothing predicts the end.
            delay = estimate_delay(estimate, age)
            if self.polls == 0 and history.reports_progress:
                # A progress reading narrows the end down: take one well before the earliest likely end.
                delay = min(delay, FIRST_READING_SHARE * quantile(estimate, EARLY_SHARE) - age)
            return delay
        if history.known_durations >= MIN_SAMPLES:
            delay = self._late_delay(age)  # longer than every job of its model seen so far
        elif self.polls == 0:
            delay = FIRST_POLL_AFTER - age
        else:
            remaining = pace_delay(self.sightings, self.created_at)
            if remaining is None:
                delay = 0.5 * age
            else:
                self._predicted_end = now + remaining
                delay = max(remaining, self._late_delay(age)) if self.ran_late else remaining
        return min(self.poll_interval, delay)

    @staticmethod
    def _late_delay(age: float) -> float:
        return max(MIN_TOLERANCE, LATE_SHARE * age)


def terminal_event(job: Job) -> Event:
    if job.status is JobStatus.COMPLETED:
        if not job.images:
            return error_event(job.id, "failed", f"Job {job.id} completed without any image URL.")
        return {
            "status": "success",
            "job_id": job.id,
            "images": list(job.images),
            "credit_cost": job.credit_cost,
        }
    reason = job.error or "no reason given"
    return error_event(job.id, job.status.value.lower(), f"Job {job.id} ended {job.status.value}: {reason}")


def error_event(job_id: str, reason: str, message: str) -> Event:
    return {"status": "error", "reason": reason, "job_id": job_id, "message": message}


def result_from_event(event: Event | None) -> list[str]:
    """The image URLs of a success event; the typed error of any other."""
    if not isinstance(event, dict) or "status" not in event:
        raise ApiframeError(f"The trigger sent an event this operator cannot read: {event!r}")
    if event["status"] == "success":
        return list(event["images"])
    job_id, reason, message = event.get("job_id", "?"), event.get("reason"), event.get("message", "")
    if reason in ("failed", "cancelled"):
        raise ApiframeJobFailedError(message, job_id=job_id, status=str(reason).upper())
    if reason == "timeout":
        raise ApiframeJobTimeoutError(message, job_id=job_id)
    if reason == "not_found":
        raise ApiframeNotFoundError(message, http_status=404)
    if reason == "auth":
        raise ApiframeAuthError(message)
    raise ApiframeError(message)


def _reason(error: ApiframeError) -> str:
    if isinstance(error, ApiframeNotFoundError):
        return "not_found"
    if isinstance(error, ApiframeAuthError):
        return "auth"
    return "error"
