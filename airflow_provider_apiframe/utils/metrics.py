"""
The provider's metrics, through Airflow's own ``Stats``: StatsD, OpenTelemetry or nothing, as configured.

Airflow's ``[metrics]`` section decides where they go.

Every name starts ``apiframe.`` (after Airflow's own prefix). Dimensions are both in the name, as plain
StatsD needs (Airflow's own metrics do the same: ``triggerer.capacity_left.<host>``), and in tags, for the
backends that keep them:

- ``apiframe.requests.<kind>.<status>``: each answer (or ``error`` when none came), by what was asked
  (``submit``, ``job``, ``jobs_page``, ``account``, ``models``, ``upload``, ``lora``) and HTTP status;
- ``apiframe.rate_limited.<kind>``: the 429s among them;
- ``apiframe.retries.<kind>`` and the timer ``apiframe.retry_wait``: resends and the wait before each;
- the timer ``apiframe.pacing_delay``: how long a request waited for the key's budget;
- ``apiframe.jobs.submitted|completed|failed.<model>`` and ``apiframe.credits_spent.<model>``: what
  tasks submitted and what their jobs became, counted once, by the task that ends;
- the gauge ``apiframe.jobs_waiting.<host>``: the jobs this process (a triggerer) waits for.

A metric never fails a request: whatever ``Stats`` raises is logged at debug level and dropped.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)
PREFIX = "apiframe"
# StatsD names allow letters, digits, "_", "-" and "." (a level): a model's dots become underscores.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_waiting = 0
_waiting_lock = threading.Lock()


def _name(*parts: str) -> str:
    return ".".join([PREFIX, parts[0], *(_UNSAFE.sub("_", part) or "none" for part in parts[1:])])


def _stats() -> Any:
    from airflow.providers.common.compat.sdk import Stats

    return Stats


def _emit(kind: str, name: str, value: float | int | timedelta, tags: dict[str, str]) -> None:
    try:
        method = getattr(_stats(), kind)
        if kind == "incr":
            method(name, count=value, tags=tags)
        else:
            method(name, value, tags=tags)
    except Exception as error:  # a metric is never worth a failed request
        log.debug("apiframe metric %s not sent: %s", name, error)


def request_kind(method: str, path: str) -> str:
    """Say what a request asks for, as the metrics name it: ``submit``, ``job``, ``jobs_page``, ..."""
    route = path.split("?", 1)[0].rstrip("/")
    if route.startswith("/v2/loras"):
        return "lora"
    if route == "/v2/jobs":
        return "jobs_page"
    if route.startswith("/v2/jobs/"):
        return "job"
    if route == "/v2/uploads":
        return "upload"
    if route == "/v2/me":
        return "account"
    if route == "/v2/models":
        return "models"
    return "submit" if method == "POST" else "other"


def answered(kind: str, status: int | None) -> None:
    """Count one request's answer (``status`` None: no answer came)."""
    label = str(status) if status is not None else "error"
    _emit("incr", _name("requests", kind, label), 1, {"kind": kind, "status": label})
    if status == 429:
        _emit("incr", _name("rate_limited", kind), 1, {"kind": kind})


def retried(kind: str, wait: float) -> None:
    """Count a resend and the wait before it."""
    _emit("incr", _name("retries", kind), 1, {"kind": kind})
    _emit("timing", _name("retry_wait"), timedelta(seconds=wait), {"kind": kind})


def paced(wait: float) -> None:
    """Time how long a request waited for the key's budget."""
    _emit("timing", _name("pacing_delay"), timedelta(seconds=wait), {})


def jobs(outcome: str, model: str, count: int = 1) -> None:
    """Count jobs of ``model`` that were ``submitted``, ``completed`` or ``failed``."""
    if count:
        _emit("incr", _name("jobs", outcome, model), count, {"outcome": outcome, "model": model})


def credits_spent(model: str, credits: int) -> None:
    """Count the credits jobs of ``model`` cost."""
    if credits:
        _emit("incr", _name("credits_spent", model), credits, {"model": model})


def waiting(change: int) -> None:
    """Move the number of jobs this process waits for by ``change`` and report it."""
    global _waiting
    with _waiting_lock:
        _waiting += change
        now = _waiting
    host = socket.gethostname()
    _emit("gauge", _name("jobs_waiting", host), now, {"host": host})
