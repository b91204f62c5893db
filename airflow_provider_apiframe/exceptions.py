"""
Typed errors for the apiframe API, one class per way a call can fail.

Permanent errors derive from ``AirflowFailException`` so that Airflow fails the task at once instead of
spending its retries on a request that cannot succeed (a bad prompt, a wrong key, an empty balance).
Transient errors derive from plain ``AirflowException``: the client retries them itself, and what is
left after its retries is still worth an Airflow retry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class ApiframeError(AirflowException):
    """Base class of every error this provider raises about the apiframe API."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message


class ApiframePermanentError(ApiframeError, AirflowFailException):
    """Retrying the same request cannot help; the user has to change something first."""


class ApiframeConfigurationError(ApiframePermanentError):
    """The Airflow connection is unusable (no API key, malformed host or settings)."""


class ApiframeRedirectError(ApiframeConfigurationError):
    """The API answered a request carrying the key with a redirect, which is never followed."""

    def __init__(self, message: str, *, location: str, http_status: int) -> None:
        super().__init__(message, http_status=http_status)
        self.location = location


class ApiframeResponseTooLargeError(ApiframePermanentError):
    """An answer (JSON from the API, or a file from the CDN) was larger than its cap; reading stopped."""


class ApiframeValidationError(ApiframePermanentError, ValueError):
    """The request was refused as invalid (HTTP 400/422), or our own check refused it before sending."""

    def __init__(
        self,
        message: str,
        *,
        details: Mapping[str, Sequence[str]] | None = None,
        http_status: int | None = None,
        arguments: Mapping[str, str] | None = None,
    ) -> None:
        self.summary = message
        # Keyed by the API's field (imagenParams.aspect_ratio): what code that handles the error reads.
        self.details: dict[str, list[str]] = {path: list(msgs) for path, msgs in (details or {}).items()}
        # The DAG's name for a field, where it differs (aspect_ratio): what the task's author reads.
        self.arguments = {path: name for path, name in (arguments or {}).items() if name != path}
        if self.details:
            lines = "; ".join(f"{self._named(path)}: {', '.join(m)}" for path, m in self.details.items())
            message = f"{message} ({lines})"
        super().__init__(message, http_status=http_status)

    def _named(self, path: str) -> str:
        return f"{self.arguments[path]} [{path}]" if path in self.arguments else path

    def in_task(self, task_id: str, arguments: Mapping[str, str]) -> ApiframeValidationError:
        """Restate the error for a task's author: naming the task, and each field as the DAG wrote it."""
        return ApiframeValidationError(
            f"Task {task_id!r}: {self.summary}",
            details=self.details,
            http_status=self.http_status,
            arguments=arguments,
        )


class ApiframeAuthError(ApiframePermanentError):
    """The API key is missing, invalid (401), inactive or lacks permission (403)."""


class ApiframeInsufficientCreditsError(ApiframePermanentError):
    """The team's balance cannot pay for the job (402), or for a batch's ``jobs`` (checked up front)."""

    def __init__(
        self,
        message: str,
        *,
        credits_required: int | None,
        credits_available: int | None,
        jobs: int = 1,
    ) -> None:
        self.credits_required = credits_required
        self.credits_available = credits_available
        needs = "the job needs" if jobs == 1 else "the batch needs"
        per = "" if jobs == 1 else f" for {jobs} jobs"
        super().__init__(
            f"{message}: {needs} {_count(credits_required)} credits{per} and the team has "
            f"{_count(credits_available)}. Top up the apiframe balance, then clear the task.",
            http_status=402,
        )


class ApiframeSpendLimitError(ApiframePermanentError):
    """
    What a task would spend passes its ``max_credits`` or the connection's ``credit_limit``: nothing is sent.

    ``spent`` is what the limit's period has spent (or holds for running jobs) already, ``spent_by`` the
    same by ``dag.task``; both None for ``max_credits``, which counts one task alone.
    """

    def __init__(
        self,
        message: str,
        *,
        limit: int,
        credits_required: int | None,
        jobs: int = 1,
        spent: int | None = None,
        spent_by: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.credits_required = credits_required
        self.jobs = jobs
        self.spent = spent
        self.spent_by = dict(spent_by or {})


class ApiframeNotFoundError(ApiframePermanentError):
    """The job does not exist, or belongs to another team (404)."""


class ApiframeConflictError(ApiframePermanentError):
    """The request conflicts with what it names (409): an action not available for its parent job."""


class ApiframeTransientError(ApiframeError):
    """A failure that may pass: 5xx, a dropped connection, a timeout, a garbled answer."""


class ApiframeLedgerUnavailableError(ApiframeTransientError):
    """The credit limit's shared ledger (Redis) cannot be reached: nothing is submitted until it can."""


class ApiframeRateLimitError(ApiframeTransientError):
    """Too many requests (429); ``retry_after`` says how long the API asked us to wait, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, http_status=429)
        self.retry_after = retry_after


class ApiframeUnexpectedResponseError(ApiframeTransientError):
    """A 2xx answer whose body is not the JSON the contract describes."""


class ApiframeJobFailedError(ApiframeError):
    """The job ended FAILED or CANCELLED; an Airflow retry submits a new job under a new key."""

    def __init__(self, message: str, *, job_id: str, status: str) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status


class ApiframeBatchFailedError(ApiframeError):
    """Some rows of a batch ended without images after their resubmissions; the others succeeded."""

    def __init__(self, message: str, *, failed_rows: Sequence[int], total_rows: int) -> None:
        super().__init__(message)
        self.failed_rows = list(failed_rows)
        self.total_rows = total_rows


class ApiframeJobTimeoutError(ApiframeError):
    """The job did not end before the operator's ``timeout``."""

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


def _count(value: Any) -> str:
    return "an unknown number of" if value is None else str(value)


def shown(value: Any, limit: int = 200) -> str:
    """``value`` as an error message quotes it: its repr, cut to ``limit`` characters, never raising."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        # An int past Python's digit limit for str(), or nesting deeper than the recursion limit.
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[:limit] + "..."
