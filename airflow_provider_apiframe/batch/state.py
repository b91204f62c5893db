"""
Where a batch stands between its triggers, what it keeps across tries, and the result row of each row.

Everything here passes through trigger kwargs, events or the task state store, so it is plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.batch.rows import Row
from airflow_provider_apiframe.waiting.events import JobEvent, JobFailed

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# The task state store keys (Airflow 3.3+) under which a batch keeps each row's job: one per block of
# rows, ``apiframe_batch_jobs.<block>``, so that a value stays under the 64 KB Airflow advises
# ([state_store] max_value_storage_bytes, about 70 bytes a row) and a chunk rewrites only its blocks.
# Renaming them makes retries of batches under way submit again (for free, under the same keys, but a
# request per row). Batches recorded before blocks kept every row under the bare key: it is still read.
STATE_KEY = "apiframe_batch_jobs"
ROWS_PER_BLOCK = 500


@dataclass(frozen=True)
class BatchState:
    """
    Hold what a batch knows between its triggers.

    :param jobs: Row index (a string) to the job id of a row that has a live or finished job.
    :param settled: Row index to the final event of a row that is done or given up.
    :param started_at: Epoch seconds of the batch's first submit (None before it).
    :param failures: Row index to the end event of the job that failed, for rows to submit again.
    :param done: Rows whose job was seen completed while the batch submitted: not looked at again (the
        last wait reads their results).
    """

    jobs: dict[str, str] = field(default_factory=dict)
    settled: dict[str, JobEvent] = field(default_factory=dict)
    started_at: float | None = None
    failures: dict[int, JobFailed] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)


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


def recorded_jobs(context: Context, rows: int) -> dict[str, str]:
    """Read the rows' jobs an earlier try recorded (Airflow 3.3+), by short digest of each row's key."""
    store = context.get("task_state_store")  # type: ignore[attr-defined]
    if store is None:
        return {}
    recorded = _held(store.get(STATE_KEY))
    for block in range(-(-rows // ROWS_PER_BLOCK)):
        recorded.update(_held(store.get(f"{STATE_KEY}.{block}")))
    return recorded


def record_jobs(context: Context, jobs: Mapping[int, str], digests: Sequence[str]) -> None:
    """
    Add rows' jobs (row index to job id) to the task state store, where there is one.

    A retry then submits none of them. ``digests`` are the rows' short key digests, by index; only the
    blocks whose entries change are written.
    """
    store = context.get("task_state_store")  # type: ignore[attr-defined]
    if store is None:
        return
    blocks: dict[int, dict[str, str]] = {}
    for index, job_id in jobs.items():
        blocks.setdefault(index // ROWS_PER_BLOCK, {})[digests[index]] = job_id
    for block, wanted in blocks.items():
        key = f"{STATE_KEY}.{block}"
        held = _held(store.get(key))
        if any(held.get(digest) != job_id for digest, job_id in wanted.items()):
            store.set(key, {**held, **wanted})


def _held(value: Any) -> dict[str, str]:
    """Return a stored block's entries, whatever else the value holds."""
    if not isinstance(value, dict):
        return {}
    return {digest: job_id for digest, job_id in value.items() if isinstance(job_id, str)}
