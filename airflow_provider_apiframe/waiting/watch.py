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

from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeError,
    ApiframeJobFailedError,
    ApiframeJobTimeoutError,
    ApiframeNotFoundError,
    ApiframeTransientError,
)
from airflow_provider_apiframe.utils.logs import Log
from airflow_provider_apiframe.waiting.durations import (
    MIN_SAMPLES,
    Reading,
    history_for,
    pace_prediction,
    quantile,
)
from airflow_provider_apiframe.waiting.events import JobEvent, JobFailed, JobSucceeded
from airflow_provider_apiframe.wire.jobs import Job, JobStatus

# Never poll one job faster than this, however close it seems to be to the end.
MIN_POLL_GAP = 0.5
# Imagen takes seconds, not milliseconds: a poll right after the submit only ever sees QUEUED.
FIRST_POLL_AFTER = 2.0
# Detection delay not worth another request: a poll comes this long after the earliest likely end
# (or at the latest likely end, if that is sooner), so a reading there also places the end closely.
MIN_TOLERANCE = 0.9
# Where nothing but the model's durations tells the end, the delay tolerated grows with their spread.
SPREAD_SHARE = 0.17
# Polls are placed so that at most this share of the likely ends comes a tolerance or more before one.
EARLY_SHARE = 0.04
# A job that ran past every likely end is next polled after this share of its age: a stalled job is
# polled ever more slowly, never faster and faster, and a late one still often enough to be seen
# ending soon after it does.
LATE_SHARE = 0.15
SIGHTINGS_KEPT = 32


@dataclass(frozen=True)
class Sighting:
    """A running job's progress (0-99) as seen by a poll at ``at`` (epoch seconds)."""

    at: float
    progress: int


def estimate_delay(estimate: Sequence[tuple[float, float]], age: float, tolerance: float | None) -> float:
    """
    When to poll a job ``age`` seconds old whose end age is distributed as ``estimate``.

    The poll comes ``tolerance`` after the earliest likely end, or at the latest likely end if that is
    sooner. Where the job's progress moves, the tolerance is short: if the job is still running then,
    its reading places the end closely. Where a poll can only say "not yet" (``tolerance`` None), the
    tolerance grows with the spread of the likely ends: a well-known end is polled right after it, a
    vague one less often.
    """
    earliest, latest = quantile(estimate, EARLY_SHARE), quantile(estimate, 1 - EARLY_SHARE)
    if tolerance is None:
        tolerance = max(MIN_TOLERANCE, SPREAD_SHARE * (latest - earliest))
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
        self.sightings: list[Sighting] = []
        # Whether the API has given this job's progress at all (a QUEUED job is a reading of 0 anyway).
        self.shows_progress = False
        self.polls = 0
        # How often the job outlived the end its own pace predicted (where nothing learned predicts it).
        self.overruns = 0
        self._paced_end: float | None = None

    def first_delay(self, now: float) -> float:
        """
        Return how long to wait before the first poll.

        A fresh job is not worth asking about at once; a trigger resumed after a restart is.
        """
        return max(0.0, min(self._next_delay(now), self.deadline - now))

    def after_poll(self, outcome: Job | ApiframeError, now: float) -> JobEvent | float:
        """Return the event that ends the wait, or how many seconds to sleep before the next poll."""
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
        if self._paced_end is not None and now >= self._paced_end:
            self.overruns += 1
        self.shows_progress = self.shows_progress or job.progress is not None
        # Whatever progress a QUEUED job shows: not started yet is a reading too, the far side of the start.
        progress = 0 if job.status is JobStatus.QUEUED else job.progress
        if progress is not None and 0 <= progress < 100:
            self.sightings = [*self.sightings[-(SIGHTINGS_KEPT - 1) :], Sighting(now, progress)]

    def _learn(self, job: Job) -> None:
        duration = job.duration
        if duration is not None and job.status is JobStatus.COMPLETED:
            created = job.created_at if job.created_at is not None else self.created_at
            history_for(job.model or self.model).record(duration, self._readings(created))

    def _readings(self, created_at: float) -> list[Reading]:
        return [(s.at - created_at, s.progress) for s in self.sightings]

    def _next_delay(self, now: float) -> float:
        age = now - self.created_at
        history = history_for(self.model)
        readings = self._readings(self.created_at)
        estimate = history.end_estimate(age, readings)
        if estimate:
            # Not held to poll_interval: that bounds the wait where nothing predicts the end. Where the
            # model reports progress, a reading just before the end places it closely.
            return estimate_delay(estimate, age, MIN_TOLERANCE if history.reports_progress else None)
        if self.polls == 0:
            return min(self.poll_interval, FIRST_POLL_AFTER - age)
        # Nothing learned says when the job ends (a new model, or a job longer than any seen): its own
        # pace does. After one reading, which may have come while the job sat QUEUED for an unknown part
        # of its life, a second comes before the age has tripled.
        prediction = pace_prediction(readings)
        self._paced_end = None
        if prediction is not None and prediction.end_age > age:
            remaining = prediction.end_age - age
            self._paced_end = now + remaining
            if prediction.from_creation:
                delay = min(remaining, 2 * age)
            else:
                # A pace that promised an early end twice (front-loaded progress, say) is not believed
                # again; once may be the rounding of progress to whole per cent.
                delay = max(remaining, self._late_delay(age)) if self.overruns > 1 else remaining
        elif prediction is None and history.known_durations < MIN_SAMPLES:
            # No pace yet: a job that shows 0 % (QUEUED) is read again before its age doubles; one that
            # shows no progress at all is polled every poll_interval, as nothing tells its end.
            delay = age if self.shows_progress else self.poll_interval
        else:
            delay = self._late_delay(age)
        return min(self.poll_interval, delay)

    @staticmethod
    def _late_delay(age: float) -> float:
        return max(MIN_TOLERANCE, LATE_SHARE * age)


def terminal_event(job: Job) -> JobEvent:
    """Make the event of a job that has ended: a success only where it completed with images."""
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


def error_event(job_id: str, reason: str, message: str) -> JobFailed:
    """Make the event of a wait that ended without images; ``reason`` picks the error it raises."""
    return {"status": "error", "reason": reason, "job_id": job_id, "message": message}


def result_from_event(event: JobEvent | None) -> list[str]:
    """Return the image URLs of a success event; raise the typed error of any other."""
    return list(succeeded(event)["images"])


def succeeded(event: JobEvent | None) -> JobSucceeded:
    """Return the event if the job succeeded; raise the typed error of any other end."""
    if not isinstance(event, dict) or "status" not in event:
        raise ApiframeError(f"The trigger sent an event this operator cannot read: {event!r}")
    if event["status"] == "success":
        return event
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
