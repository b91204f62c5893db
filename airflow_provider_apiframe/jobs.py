"""
Reading the API's answers about jobs.

This is the one place that tolerates what the contract only *assumes* or that could drift: the submit
answer says ``jobId`` where the job says ``id``, status case, and where a finished job keeps its image
URLs. Everything past this module works with ``Job`` and ``JobStatus`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from airflow_provider_apiframe.exceptions import ApiframeUnexpectedResponseError


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_unsuccessful(self) -> bool:
        return self in (JobStatus.FAILED, JobStatus.CANCELLED)


_TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class SubmittedJob:
    """The answer to a submit: a new job, or on an idempotent replay the original one."""

    job_id: str
    status: JobStatus


@dataclass(frozen=True)
class Job:
    id: str
    status: JobStatus
    model: str | None = None
    progress: int | None = None
    error: str | None = None
    credit_cost: int | None = None
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
    data = _mapping(body, "submit answer")
    job_id = data.get("jobId", data.get("id"))
    if not isinstance(job_id, str) or not job_id:
        raise ApiframeUnexpectedResponseError(f"The submit answer has no job id: {_excerpt(data)}")
    return SubmittedJob(job_id=job_id, status=parse_status(data.get("status", JobStatus.QUEUED)))


def parse_job(body: Any) -> Job:
    data = _mapping(body, "job")
    job_id = data.get("id", data.get("jobId"))
    if not isinstance(job_id, str) or not job_id:
        raise ApiframeUnexpectedResponseError(f"The job answer has no id: {_excerpt(data)}")
    progress = data.get("progress")
    cost = data.get("creditCost")
    error = data.get("error")
    return Job(
        id=job_id,
        status=parse_status(data.get("status")),
        model=data.get("model") if isinstance(data.get("model"), str) else None,
        progress=int(progress) if isinstance(progress, int | float) else None,
        error=error if isinstance(error, str) else (None if error is None else str(error)),
        credit_cost=cost if isinstance(cost, int) else None,
        images=_image_urls(data.get("result")),
        expired=data.get("expired") is True,
        created_at=parse_timestamp(data.get("createdAt")),
        completed_at=parse_timestamp(data.get("completedAt")),
    )


def parse_timestamp(value: Any) -> float | None:
    """ISO 8601 (the spec's date-time) or, defensively, epoch seconds or milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        # The spec's timestamps are UTC; one without an offset is read as UTC too.
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_status(value: Any) -> JobStatus:
    try:
        return JobStatus(str(value).strip().upper())
    except ValueError:
        raise ApiframeUnexpectedResponseError(f"Unknown job status {value!r}") from None


def _image_urls(result: Any) -> list[str]:
    # The spec leaves `result` untyped; the seed documents {"images": [url, ...]}. Accept a bare list
    # or a single URL too, so a drift in that shape is not mistaken for a job without images.
    if isinstance(result, Mapping):
        result = result.get("images", result.get("imageUrls", result.get("image_url")))
    if isinstance(result, str):
        result = [result]
    if not isinstance(result, list):
        return []
    return [url for url in result if isinstance(url, str)]


def _mapping(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ApiframeUnexpectedResponseError(f"The {what} is not a JSON object: {_excerpt(body)}")
    return body


def _excerpt(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
