"""Checks of operator arguments shared by every operator and sensor of the provider."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.operators.templating import is_template

# Room for the triggerer to deliver the trigger's own timeout event before Airflow's defer timeout fires.
DEFER_TIMEOUT_GRACE = 120.0


def is_literal(value: Any) -> bool:
    """Whether a value is known at DAG parse time (not a template or an upstream task's output)."""
    if isinstance(value, str):
        return not is_template(value)
    if isinstance(value, Mapping):
        return all(is_literal(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_literal(v) for v in value)
    return isinstance(value, int | float | bool | type(None))


@contextmanager
def errors_named_for(task_id: str, argument: Callable[[str], str] = str) -> Iterator[None]:
    """
    Reword validation errors raised inside as the DAG's author reads them.

    They name the task, and each API field by the argument that holds it (``argument`` maps one to the
    other).
    """
    try:
        yield
    except ApiframeValidationError as error:
        raise error.in_task(task_id, {path: argument(path) for path in error.details}) from None


def positive_seconds(task_id: str, name: str, value: Any) -> float:
    """Read a duration argument as seconds; anything but a positive number or a timedelta is refused."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ValueError(
            f"{task_id}: {name} must be a positive number of seconds or a timedelta, got {value!r}"
        )
    return float(seconds)
