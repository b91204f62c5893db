"""
Reading the API's answers about jobs.

This is the one place that tolerates what the contract only *assumes* or that could drift: the submit
answer says ``jobId`` where the job says ``id``, status case, and where a finished job keeps its image
URLs. Everything past this module works with ``Job`` and ``JobStatus`` only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from airflow_provider_apiframe.exceptions import ApiframeUnexpectedResponseError, shown

# The contract's progress is 0 to 100 or null.
MAX_PROGRESS = 100
# A credit cost past this is no price but a garbled number (one of thousands of digits could not even be
# written to an XCom).
MAX_CREDIT_COST = 10**12
# Where an image job's result lists its URLs (the seed's key first).
IMAGE_KEYS = ("images", "imageUrls", "image_url")
# How deep and how many URLs are read from a result of another shape: an answer is bounded, not trusted.
MAX_RESULT_DEPTH = 6
MAX_OUTPUTS = 1000


class JobStatus(StrEnum):
    """A job's status, as the API names it."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended: it will change no more."""
        return self in _TERMINAL

    @property
    def is_unsuccessful(self) -> bool:
        """Whether the job ended without images: FAILED or CANCELLED."""
        return self in (JobStatus.FAILED, JobStatus.CANCELLED)


_TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
_STATUSES = {status.value: status for status in JobStatus}


@dataclass(frozen=True)
class SubmittedJob:
    """The answer to a submit: a new job, or on an idempotent replay the original one."""

    job_id: str
    status: JobStatus


@dataclass(frozen=True)
class Job:
    """A job as the API describes it, in the fields the provider reads."""

    id: str
    status: JobStatus
    model: str | None = None
    progress: int | None = None
    error: str | None = None
    credit_cost: int | None = None
    # The output URLs: images, or the videos or audio files of those operations.
    images: list[str] = field(default_factory=list)
    expired: bool = False
    # Epoch seconds on the API's clock; None when absent or unreadable.
    created_at: float | None = None
    completed_at: float | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from creation to end, as the API measured them."""
        if self.created_at is None or self.completed_at is None:
            return None
        return self.completed_at - self.created_at


def parse_submitted(body: Any) -> SubmittedJob:
    """Parse the answer to a submit; an ``ApiframeUnexpectedResponseError`` if it names no job."""
    data = _mapping(body, "submit answer")
    return SubmittedJob(
        job_id=_job_id(data, "jobId", "id", what="submit answer"),
        status=parse_status(data.get("status", JobStatus.QUEUED)),
    )


def parse_job(body: Any) -> Job:
    """
    Parse the job an answer describes; an ``ApiframeUnexpectedResponseError`` if it has no id or status.

    Optional fields the contract types loosely are read as unknown (None) when they hold anything
    else, so that one garbled field costs its own value, never the job's status.
    """
    data = _mapping(body, "job")
    error = data.get("error")
    return Job(
        id=_job_id(data, "id", "jobId", what="job answer"),
        status=parse_status(data.get("status")),
        model=data.get("model") if isinstance(data.get("model"), str) else None,
        progress=_progress(data.get("progress")),
        error=error if isinstance(error, str) else (None if error is None else shown(error)),
        credit_cost=_bounded_int(data.get("creditCost"), MAX_CREDIT_COST),
        images=_output_urls(data.get("result")),
        expired=data.get("expired") is True,
        created_at=parse_timestamp(data.get("createdAt")),
        completed_at=parse_timestamp(data.get("completedAt")),
    )


def parse_timestamp(value: Any) -> float | None:
    """
    Parse a timestamp of the API into epoch seconds.

    ISO 8601 (the spec's date-time) or, defensively, epoch seconds or milliseconds; None when absent,
    unreadable, or outside what ``datetime`` can represent (so ``datetime.fromtimestamp`` of a
    result never fails).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return _representable(float(value) / 1000 if value > 1e11 else float(value))
        except OverflowError:  # an int too large for a float
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        # The spec's timestamps are UTC; one without an offset is read as UTC too.
        moment = moment.replace(tzinfo=UTC)
    return _representable(moment.timestamp())


def _representable(epoch: float) -> float | None:
    # NaN, infinities, and moments outside the years 1 to 9999 in UTC (an offset can push an ISO date out).
    try:
        datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return epoch


def parse_status(value: Any) -> JobStatus:
    """Parse a job status in any case; an ``ApiframeUnexpectedResponseError`` if it is none we know."""
    status = _STATUSES.get(value.strip().upper()) if isinstance(value, str) else None
    if status is None:
        raise ApiframeUnexpectedResponseError(f"Unknown job status {shown(value)}")
    return status


def _job_id(data: Mapping[str, Any], key: str, fallback: str, *, what: str) -> str:
    job_id = data.get(key, data.get(fallback))
    if not isinstance(job_id, str) or not job_id:
        raise ApiframeUnexpectedResponseError(f"The {what} has no job id: {shown(data)}")
    return job_id


def _progress(value: Any) -> int | None:
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    return _bounded_int(value, MAX_PROGRESS)


def _bounded_int(value: Any, most: int) -> int | None:
    """``value`` if it is an int (not a bool) from 0 to ``most``; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most:
        return value
    return None


def _output_urls(result: Any) -> list[str]:
    """
    Return the job's output URLs: ``images`` as the seed documents it, else every http(s) URL under it.

    The spec leaves ``result`` untyped: images come as ``{"images": [url, ...]}`` (a bare list or a single
    URL is accepted too, so a drift in that shape is not mistaken for a job without images); videos and
    audio (*assumed* ``{"videos": [...]}``, ``{"audio": [...]}``) in any shape, read in order.
    """
    if isinstance(result, Mapping) and any(key in result for key in IMAGE_KEYS):
        result = next(result[key] for key in IMAGE_KEYS if key in result)
        if isinstance(result, str):
            result = [result]
        return [url for url in result if isinstance(url, str)] if isinstance(result, list) else []
    if isinstance(result, str | list):
        found = [result] if isinstance(result, str) else [url for url in result if isinstance(url, str)]
        if found or isinstance(result, str):
            return found
    return list(_urls_under(result, MAX_RESULT_DEPTH))[:MAX_OUTPUTS]


def _urls_under(value: Any, depth: int) -> Iterator[str]:
    if isinstance(value, str):
        if value.startswith(("https://", "http://")):
            yield value
    elif depth > 0 and isinstance(value, Mapping):
        for item in value.values():
            yield from _urls_under(item, depth - 1)
    elif depth > 0 and isinstance(value, list):
        for item in value:
            yield from _urls_under(item, depth - 1)


def _mapping(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ApiframeUnexpectedResponseError(f"The {what} is not a JSON object: {shown(body)}")
    return body
