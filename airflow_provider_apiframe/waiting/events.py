"""
What a wait ends with, as a trigger sends it to its operator.

Plain JSON objects (they pass through the trigger table and ``airflow.sdk.serde``), typed here so that
mypy holds every producer and reader to one shape.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, TypeGuard


class JobSucceeded(TypedDict):
    """The job completed with images."""

    status: Literal["success"]
    job_id: str
    images: list[str]
    credit_cost: int | None


class JobFailed(TypedDict):
    """The job ended without images, or the wait gave up: ``reason`` says which (see ``succeeded``)."""

    status: Literal["error"]
    reason: str
    job_id: str
    message: str


JobEvent = JobSucceeded | JobFailed


def is_sent_again(event: JobEvent) -> TypeGuard[JobFailed]:
    """Say whether a batch row whose job ended so is submitted again (its job failed or was cancelled)."""
    return event["status"] == "error" and event["reason"] in ("failed", "cancelled")


class LoraEnded(TypedDict, total=False):
    """A LoRA's training ended (``lora``: the LoRA, when READY) or its wait gave up (``reason``)."""

    status: Literal["success", "error"]
    lora: dict[str, Any] | None
    lora_id: str
    message: str
    reason: str


class BatchSubmitted(TypedDict):
    """
    A submission is done: each row's job id, or its final event where it was given up.

    ``ended`` holds the end event of each earlier row's job (an earlier try's or submission's) that had
    ended without its outputs, ``done`` the rows whose job was seen completed (both absent from the
    events of triggers stored before they looked).
    """

    jobs: dict[str, str]
    settled: dict[str, JobEvent]
    started_at: float
    ended: NotRequired[dict[str, JobEvent]]
    done: NotRequired[list[str]]


class BatchWaited(TypedDict):
    """The batch's jobs have ended: each waited row's event, beside the rows settled before the wait."""

    results: dict[str, JobEvent]
    settled: dict[str, JobEvent]
    started_at: float
