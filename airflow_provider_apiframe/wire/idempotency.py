"""
Idempotency keys that make a submit safe to repeat.

The key names the task instance (dag, run, task, map index) and the request (model, prompt, parameters)
but not the try number: a retried try, a restarted worker or a resent POST all get the job the first
try paid for. A job that ended FAILED or CANCELLED must be paid for again; its successor key is derived
from the failed job's id, so every retry walks the same chain of keys and still never pays twice for one
attempt.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_apiframe.wire.jobs import SubmittedJob

PREFIX = "airflow-apiframe-"


def task_instance_key(
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    model: str,
    prompt: str,
    params: Mapping[str, Any],
    row: str | int | None = None,
) -> str:
    """
    Return the key of one generation of a task instance; ``row`` names a batch's row (its id or index).

    A single generation's key has no row part, so keys made before batches existed still match.
    """
    identity: list[Any] = [dag_id, run_id, task_id, map_index, model, prompt, dict(sorted(params.items()))]
    if row is not None:
        identity.append({"row": row})
    return _key(json.dumps(identity, separators=(",", ":"), ensure_ascii=False))


def one_off_key() -> str:
    """For a submit outside a task: still safe to resend after a dropped connection, never replayed later."""
    return PREFIX + uuid.uuid4().hex


def successor_key(key: str, failed_job_id: str) -> str:
    """Derive the key of the next attempt after the job submitted with ``key`` ended FAILED or CANCELLED."""
    return _key(f"{key}|after|{failed_job_id}")


class KeyChain:
    """
    Walk the keys of one request: its first key, then the successor of each job that ended unsuccessfully.

    The hook (one job) and the batch trigger (a job per row) submit through it, so both resubmit alike: a
    replay that hands back a FAILED or CANCELLED job moves to the successor key, at most ``most`` jobs.

    :param key: The request's first idempotency key.
    :param most: How many jobs the chain may take, its first included.
    """

    def __init__(self, key: str, most: int) -> None:
        self.key = key
        self._left = most - 1

    def follow(self, accepted: SubmittedJob) -> bool:
        """Say whether to submit again (under the new ``key``): the job failed and the chain has room."""
        if not accepted.status.is_unsuccessful or self._left <= 0:
            return False
        self._left -= 1
        self.key = successor_key(self.key, accepted.job_id)
        return True


def _key(material: str) -> str:
    return PREFIX + hashlib.sha256(material.encode()).hexdigest()
