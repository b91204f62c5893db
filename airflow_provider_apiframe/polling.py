"""
Waiting for a job: when to poll next, what a poll means, and the one event that ends the wait.

The trigger (async, on the triggerer) and the hook's blocking wait (sync, on a worker) both drive a
``JobWatch``; they differ only in how they sleep and send. The event is plain JSON so that it crosses the
trigger boundary unchanged, and ``result_from_event`` turns it into the task's return value or the typed
error the user sees, whichever path produced it.
"""

from __future__ import annotations

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
from airflow_provider_apiframe.jobs import Job, JobStatus

# Never poll faster than this, however close the job seems to be to the end.
MIN_POLL_INTERVAL = 0.5
# Imagen takes seconds, not milliseconds: a poll right after the submit only ever sees QUEUED.
FIRST_POLL_AFTER = 2.0

Event = dict[str, Any]


class Log(Protocol):
    """The part of a logger a wait uses: Airflow hands hooks and triggers loggers of several types."""

    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Sighting:
    """A job's progress (1-99) as seen by a poll at ``at`` (epoch seconds)."""

    at: float
    progress: int


def next_poll_delay(
    latest: Sighting | None, earlier: Sighting | None, submitted_at: float, poll_interval: float
) -> float:
    """
    Seconds until the next poll: when the job's pace says it will be done, within bounds.

    The pace comes from the last two sightings of a running job, or from the latest one and the submit
    time when there is only one. Polling when the job should end (and not on a fixed grid) sees it end
    sooner with no more requests. Without progress to go on (queued, or an API that does not report it),
    the poll interval is the fallback.
    """
    if latest is None:
        return poll_interval
    if earlier is not None and latest.progress > earlier.progress and latest.at > earlier.at:
        pace = (latest.progress - earlier.progress) / (latest.at - earlier.at)
    elif latest.at > submitted_at:
        pace = latest.progress / (latest.at - submitted_at)
    else:
        return poll_interval
    return min(poll_interval, max(MIN_POLL_INTERVAL, (100 - latest.progress) / pace))


class JobWatch:
    """The state of one wait: the last status seen, the deadline, and what the latest poll means."""

    def __init__(
        self,
        job_id: str,
        *,
        poll_interval: float,
        deadline: float,
        submitted_at: float,
        log: Log,
    ) -> None:
        self.job_id = job_id
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.submitted_at = submitted_at
        self.log = log
        self.last_status: JobStatus | None = None
        self.latest: Sighting | None = None
        self.earlier: Sighting | None = None

    def first_delay(self, now: float) -> float:
        """A fresh job is not worth asking about at once; a trigger resumed after a restart is."""
        return max(0.0, self.submitted_at + min(FIRST_POLL_AFTER, self.poll_interval) - now)

    def after_poll(self, outcome: Job | ApiframeError, now: float) -> Event | float:
        """The event that ends the wait, or how many seconds to sleep before the next poll."""
        if isinstance(outcome, ApiframeError):
            if not isinstance(outcome, ApiframeTransientError):
                return error_event(self.job_id, _reason(outcome), str(outcome))
            self.log.warning("Polling job %s failed, will poll again: %s", self.job_id, outcome)
        elif outcome.status != self.last_status:
            self.last_status = outcome.status
            self.log.info("Job %s is %s (progress %s)", self.job_id, outcome.status.value, outcome.progress)
            if outcome.status.is_terminal:
                return terminal_event(outcome)
        if isinstance(outcome, Job) and outcome.progress is not None and 0 < outcome.progress < 100:
            self.earlier, self.latest = self.latest, Sighting(now, outcome.progress)
        if now >= self.deadline:
            return error_event(
                self.job_id,
                "timeout",
                f"Job {self.job_id} did not finish within the timeout "
                f"({self.deadline - self.submitted_at:.0f} s after submit); last status "
                f"{self.last_status.value if self.last_status else 'unknown'}.",
            )
        delay = next_poll_delay(self.latest, self.earlier, self.submitted_at, self.poll_interval)
        return min(delay, self.deadline - now)


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
