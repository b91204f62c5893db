"""
Where a batch stands between its triggers, what it keeps across tries, and the result row of each row.

Everything here passes through trigger kwargs, events or the task state store, so it is plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.batch.rows import Row
from airflow_provider_apiframe.waiting.events import JobEvent, JobFailed

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# The task state store key (Airflow 3.3+) under which a batch keeps each row's job; renaming it makes
# retries of batches under way submit again (for free, under the same keys, but a request per row).
STATE_KEY = "apiframe_batch_jobs"


@dataclass(frozen=True)
class BatchState:
    """
    Hold what a batch knows between its triggers.

    :param jobs: Row index (a string) to the job id of a row that has a live or finished job.
    :param settled: Row index to the final event of a row that is done or given up.
    :param started_at: Epoch seconds of the batch's first submit (None before it).
    :param failures: Row index to the end event of the job that failed, for rows to submit again.
    """

    jobs: dict[str, str] = field(default_factory=dict)
    settled: dict[str, JobEvent] = field(default_factory=dict)
    started_at: float | None = None
    failures: dict[int, JobFailed] = field(default_factory=dict)


def result_row(row: Row, outcome: JobEvent | None, outputs: str = "images") -> dict[str, Any]:
    """
    Make the result of one row: its prompt and id, its job and status, its outputs or its error.

    The outputs are under ``outputs``: the operation's result kind (``images``, ``videos``, ``audio``).
    """
    from airflow_provider_apiframe.waiting.watch import error_event

    outcome = outcome or error_event("", "error", "No outcome")
    if outcome["status"] == "success":
        status, images, error, cost = "COMPLETED", list(outcome["images"]), None, outcome["credit_cost"]
    else:
        status, images, error, cost = outcome["reason"].upper(), [], outcome["message"], None
    return {
        "prompt": row.prompt,
        "id": row.id,
        "job_id": outcome["job_id"] or None,
        "status": status,
        outputs: images,
        "error": error,
        "credit_cost": cost,
    }


def recorded_jobs(context: Context) -> dict[str, str]:
    """Read the rows' jobs an earlier try recorded (Airflow 3.3+), by short digest of each row's key."""
    store = context.get("task_state_store")  # type: ignore[attr-defined]
    recorded = store.get(STATE_KEY) if store is not None else None
    if not isinstance(recorded, dict):
        return {}
    return {digest: job_id for digest, job_id in recorded.items() if isinstance(job_id, str)}


def record_jobs(context: Context, jobs: Mapping[str, str]) -> None:
    """Add rows' jobs to the task state store, where there is one, so that a retry submits none of them."""
    store = context.get("task_state_store")  # type: ignore[attr-defined]
    if store is not None and jobs:
        store.set(STATE_KEY, {**recorded_jobs(context), **jobs})
