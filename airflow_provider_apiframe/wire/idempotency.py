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
from typing import Any

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
    The key of one generation of a task instance; ``row`` names a batch's row (its id, or its index).

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
    return _key(f"{key}|after|{failed_job_id}")


def _key(material: str) -> str:
    return PREFIX + hashlib.sha256(material.encode()).hexdigest()
