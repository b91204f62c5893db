"""
How one request to the apiframe API is sent, retried and turned into a value or a typed error.

The policy (headers, which failures are retried and how long to wait, how a status and body become an
exception) is written once; ``SyncTransport`` (requests, for operators) and ``AsyncTransport`` (aiohttp,
for triggers) only move bytes. Neither logs nor raises anything that contains the API key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeConfigurationError,
    ApiframeConflictError,
    ApiframeError,
    ApiframeInsufficientCreditsError,
    ApiframeNotFoundError,
    ApiframeRateLimitError,
    ApiframeRedirectError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.utils import metrics
from airflow_provider_apiframe.wire.bounded_read import async_body, sync_body
from airflow_provider_apiframe.wire.budgets import budget_for
from airflow_provider_apiframe.wire.multipart import FormPart, MultipartBody
from airflow_provider_apiframe.wire.pacing import Booking, Budget

if TYPE_CHECKING:
    import aiohttp
    import requests

log = logging.getLogger(__name__)

USER_AGENT = "airflow-provider-apiframe"
# Full-jitter backoff as the vendor's SDK does it, but bounded by time rather than by count: a task
# that gives up on a burst of 503s costs the user an Airflow retry, riding it out here costs nothing.
BACKOFF_BASE = 0.25
BACKOFF_CAP = 8.0
BODY_EXCERPT = 200
# The largest JSON answer read: a page of 100 jobs with their inputs is well under 1 MiB.
MAX_JSON_BYTES = 8 * 1024 * 1024
# What a connection's credit_limit counts: a UTC day, or one DAG run.
PERIODS = ("day", "dag_run")


@dataclass(frozen=True)
class ClientSettings:
    """Everything a transport needs; built from the Airflow connection by the hook."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 60.0
    # How long one request rides out transient failures (5xx, 429, drops, timeouts) before giving up.
    retry_timeout: float = 300.0
    # An optional cap on the number of resends within that time; None: as many as the time allows.
    max_retries: int | None = None
    # The API's budget per key (*assumed* 500/min); 0 turns pacing off.
    rate_limit_per_minute: int = 500
    # A Redis connection that keeps the key's pace for every process naming it; None: each its own.
    rate_limit_redis_conn_id: str | None = None
    # The most the key may spend per ``credit_limit_per`` (a UTC day or a DAG run); None: no limit.
    credit_limit: int | None = None
    credit_limit_per: str = "day"
    # The Airflow connection these came from, named in errors that the user fixes there.
    conn_id: str = ""

    # Connection-extra keys that configure the client rather than being sent as HTTP headers.
    EXTRA_KEYS = (
        "timeout",
        "retry_timeout",
        "max_retries",
        "rate_limit_per_minute",
        "rate_limit_redis_conn_id",
        "credit_limit",
        "credit_limit_per",
    )

    @classmethod
    def from_connection_extra(
        cls, base_url: str, api_key: str, extra: Mapping[str, Any], conn_id: str = ""
    ) -> ClientSettings:
        """Build the settings from a connection's extra; a bad value is an ``ApiframeConfigurationError``."""
        # An emptied form field is stored as null (Airflow 3) or blank text (Airflow 2): the default.
        extra = {
            k: v for k, v in extra.items() if v is not None and not (isinstance(v, str) and not v.strip())
        }
        try:
            timeout = float(extra.get("timeout", cls.timeout))
            retry_timeout = float(extra.get("retry_timeout", cls.retry_timeout))
            max_retries = None if extra.get("max_retries") is None else int(extra["max_retries"])
            rate_limit = int(extra.get("rate_limit_per_minute", cls.rate_limit_per_minute))
        except (TypeError, ValueError) as err:
            raise ApiframeConfigurationError(
                "The connection's extra has an invalid timeout, retry_timeout, max_retries or "
                f"rate_limit_per_minute: {err}"
            ) from None
        if timeout <= 0 or retry_timeout < 0 or (max_retries is not None and max_retries < 0):
            raise ApiframeConfigurationError(
                "The connection's timeout must be > 0, retry_timeout and max_retries >= 0"
            )
        if rate_limit < 0 or rate_limit == 1:
            raise ApiframeConfigurationError(
                "The connection's rate_limit_per_minute must be 0 (no pacing) or at least 2"
            )
        redis_conn_id = extra.get("rate_limit_redis_conn_id") or None
        if redis_conn_id is not None and not isinstance(redis_conn_id, str):
            raise ApiframeConfigurationError(
                "The connection's rate_limit_redis_conn_id must be the id of a Redis connection, "
                f"got {redis_conn_id!r}"
            )
        credit_limit = _credits(extra.get("credit_limit"))
        if credit_limit is not None and credit_limit < 0:
            raise ApiframeConfigurationError(
                "The connection's credit_limit must be a whole number of credits >= 0, got "
                f"{extra['credit_limit']!r}"
            )
        per = extra.get("credit_limit_per", cls.credit_limit_per)
        if per not in PERIODS:
            raise ApiframeConfigurationError(
                f"The connection's credit_limit_per must be one of {', '.join(PERIODS)}, got {per!r}"
            )
        return cls(
            base_url=base_url.rstrip("/"),
            api_key=api_key,
            timeout=timeout,
            retry_timeout=retry_timeout,
            max_retries=max_retries,
            rate_limit_per_minute=rate_limit,
            rate_limit_redis_conn_id=redis_conn_id,
            credit_limit=credit_limit,
            credit_limit_per=per,
            conn_id=conn_id,
        )

    def budget(self) -> Budget | None:
        """Return the budget that paces this key's requests; None where pacing is turned off."""
        if not self.rate_limit_per_minute:
            return None
        return budget_for(
            self.base_url, self.api_key, self.rate_limit_per_minute, self.rate_limit_redis_conn_id
        )


def _credits(value: object) -> int | None:
    """Read a whole number of credits from an extra (a number, or the text Airflow 2 stores); else -1."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return int(value) if value == int(value) else -1
    return -1


@dataclass(frozen=True)
class ApiRequest:
    """One request to the API: its method, its path under the base URL, a JSON body and an idempotency key."""

    method: str
    path: str
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    # False for the API's public reads (the model list): no key, so a redirect may be followed.
    authenticated: bool = True
    # A form sent as multipart/form-data instead of a JSON body (an upload, a LoRA's training images).
    form: tuple[FormPart, ...] | None = None
    # Whether resending it after a failure is harmless though it has no idempotency key (an upload: an
    # extra copy of a file, never a second charge).
    free_to_resend: bool = False

    def __post_init__(self) -> None:
        # Only paths under the configured base URL: no caller can aim a request, and the key, elsewhere.
        if not self.path.startswith("/"):
            raise ValueError(f"An API request's path must start with '/', got {self.path!r:.100}")

    @property
    def kind(self) -> str:
        """What the request asks for, as the metrics name it (``submit``, ``job``, ``jobs_page``, ...)."""
        return metrics.request_kind(self.method, self.path)

    @property
    def may_resend(self) -> bool:
        """Say whether a resend is harmless: a read, a write the server deduplicates, or a free upload."""
        return self.method == "GET" or self.idempotency_key is not None or self.free_to_resend

    def describe(self) -> str:
        """Name the request in messages: its method and path."""
        return f"{self.method} {self.path}"

    def url(self, settings: ClientSettings) -> str:
        """Return the request's URL under the configured base URL."""
        return settings.base_url + self.path


def job_request(job_id: str) -> ApiRequest:
    """``GET /v2/jobs/{id}``, the one way to ask about a single job."""
    return ApiRequest("GET", f"/v2/jobs/{quote(job_id, safe='')}")


@dataclass(frozen=True)
class RawResponse:
    """An answer as it came off the wire, before it is interpreted."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def build_headers(settings: ClientSettings, request: ApiRequest) -> dict[str, str]:
    """Return the request's HTTP headers; the API key only on an authenticated request."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if request.authenticated:
        headers["X-API-Key"] = settings.api_key
    if request.body is not None:
        headers["Content-Type"] = "application/json"
    if request.idempotency_key is not None:
        headers["Idempotency-Key"] = request.idempotency_key
    return headers


def encode_body(request: ApiRequest) -> bytes | None:
    """Encode the request's body as JSON; an ``ApiframeValidationError`` if it cannot be."""
    if request.body is None:
        return None
    try:
        # allow_nan=False: NaN and Infinity are not JSON, and a server may read them as anything.
        return json.dumps(request.body, allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise ApiframeValidationError(
            f"{request.describe()} was not sent: its body cannot be written as JSON ({error})"
        ) from None


def interpret(settings: ClientSettings, request: ApiRequest, response: RawResponse) -> Any:
    """Return the decoded JSON of a 2xx answer; anything else becomes the matching typed error."""
    if 200 <= response.status < 300:
        if response.status == 204:
            return None  # No Content: a DELETE that archived
        try:
            return json.loads(response.body)
        except (ValueError, RecursionError):
            raise ApiframeUnexpectedResponseError(
                _redact(
                    f"{request.describe()} answered HTTP {response.status} with a body that is not JSON: "
                    f"{_excerpt(response.body)}",
                    settings,
                ),
                http_status=response.status,
            ) from None
    raise error_from_response(settings, request, response)


def error_from_response(
    settings: ClientSettings, request: ApiRequest, response: RawResponse
) -> ApiframeError:
    """Turn an answer that is not 2xx into the typed error its status and body call for."""
    status = response.status
    if 300 <= status < 400:
        return redirect_error(settings, request, response)
    payload = _json_object(response.body)
    reason = payload.get("error") if payload is not None else None
    if isinstance(reason, str) and reason:
        message = _redact(f"apiframe refused {request.describe()} (HTTP {status}): {reason}", settings)
    else:
        message = _redact(
            f"apiframe answered {request.describe()} with HTTP {status} and no error message: "
            f"{_excerpt(response.body)}",
            settings,
        )
    payload = payload or {}
    if status in (400, 422):
        details = payload.get("details")
        return ApiframeValidationError(message, details=_clean_details(details, settings), http_status=status)
    if status in (401, 403):
        where = f"connection {settings.conn_id!r}" if settings.conn_id else "the connection"
        hint = (
            f"check the API key in the Password field of {where}"
            if status == 401
            else f"the key of {where} is inactive or lacks permission for this request"
        )
        return ApiframeAuthError(f"{message} ({hint})", http_status=status)
    if status == 402:
        return ApiframeInsufficientCreditsError(
            message,
            credits_required=_int_or_none(payload.get("creditsRequired")),
            credits_available=_int_or_none(payload.get("creditsAvailable")),
        )
    if status == 404:
        return ApiframeNotFoundError(message, http_status=404)
    if status == 409:
        return ApiframeConflictError(message, http_status=409)
    if status == 429:
        return ApiframeRateLimitError(message, retry_after=parse_retry_after(response.headers))
    if status >= 500 and status != 501:
        return ApiframeTransientError(message, http_status=status)
    return ApiframeError(message, http_status=status)


def redirect_error(settings: ClientSettings, request: ApiRequest, response: RawResponse) -> ApiframeError:
    """Make the error for a redirect answer, naming where it pointed with the key redacted."""
    location = next((v for k, v in response.headers.items() if k.lower() == "location"), "")
    location = _redact(location[:BODY_EXCERPT], settings)
    return ApiframeRedirectError(
        f"apiframe answered {request.describe()} with HTTP {response.status}, a redirect to "
        f"{location or 'nowhere'!r}. A request that carries the API key never follows a redirect: "
        "set the connection's API URL to the address the API answers at.",
        location=location,
        http_status=response.status,
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Read ``Retry-After`` (seconds or an HTTP date) as seconds to wait; None if absent or unreadable."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def retry_delay(
    settings: ClientSettings, request: ApiRequest, error: ApiframeError, attempt: int, elapsed: float
) -> float | None:
    """
    Return the seconds to wait before resending after ``error``; None when the request must give up.

    ``attempt`` is the try number (0-based) and ``elapsed`` the seconds since the first try.
    """
    if settings.max_retries is not None and attempt >= settings.max_retries:
        return None
    if isinstance(error, ApiframeRateLimitError) and error.retry_after is not None:
        # A little spread so that the tasks a 429 stopped together do not all come back together.
        delay = error.retry_after + random.uniform(0, min(1.0, 0.1 * error.retry_after + 0.05))
    elif isinstance(error, ApiframeRateLimitError) or (
        isinstance(error, ApiframeTransientError) and request.may_resend
    ):
        delay = backoff(attempt)
    else:
        return None
    return delay if elapsed + delay <= settings.retry_timeout else None


def backoff(attempt: int) -> float:
    """Return a full-jitter delay for try number ``attempt``, capped at ``BACKOFF_CAP``."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def transport_failure(
    settings: ClientSettings, request: ApiRequest, err: BaseException
) -> ApiframeTransientError:
    """Turn a failure to send a request or to read its answer into a transient error, without the key."""
    kind = "timed out" if isinstance(err, TimeoutError) or "Timeout" in type(err).__name__ else "failed"
    metrics.answered(request.kind, None)
    return ApiframeTransientError(
        _redact(f"{request.describe()} to {settings.base_url} {kind}: {type(err).__name__}: {err}", settings)
    )


class Attempts:
    """The tries of one request so far: what decides whether, and when, to send it again."""

    def __init__(self, settings: ClientSettings, request: ApiRequest) -> None:
        self.settings = settings
        self.request = request
        self.count = 0
        self.started = time.monotonic()

    def delay_after(self, error: ApiframeError) -> float | None:
        """Count a resend after ``error`` and return how long to wait for it; None to give up."""
        delay = retry_delay(self.settings, self.request, error, self.count, time.monotonic() - self.started)
        if delay is not None:
            log.warning("%s; retry %d in %.2f s", error, self.count + 1, delay)
            metrics.retried(self.request.kind, delay)
            self.count += 1
        return delay


def paced_interpret(
    settings: ClientSettings,
    request: ApiRequest,
    response: RawResponse,
    budget: Budget | None,
    booking: Booking | None,
) -> Any:
    """``interpret``, telling the budget when the API says the key's budget is spent."""
    metrics.answered(request.kind, response.status)
    if booking is not None:
        metrics.paced(booking.wait)
    if budget is not None and booking is not None and response.status == 429:
        budget.refused(parse_retry_after(response.headers), booking)
    return interpret(settings, request, response)


class SyncTransport:
    """Sends requests over one ``requests.Session``, reused for every call of a hook."""

    def __init__(self, settings: ClientSettings, session: requests.Session) -> None:
        self.settings = settings
        self.session = session
        self.budget = settings.budget()

    def send(self, request: ApiRequest) -> Any:
        """Send the request, resending it as the retry policy allows; return the decoded JSON answer."""
        attempts = Attempts(self.settings, request)
        while True:
            try:
                return self._send_once(request)
            except ApiframeError as error:
                delay = attempts.delay_after(error)
                if delay is None:
                    raise
                time.sleep(delay)

    def _send_once(self, request: ApiRequest) -> Any:
        import requests

        headers = build_headers(self.settings, request)
        data: bytes | MultipartBody | None = encode_body(request)
        budget = self.budget if request.authenticated else None
        booking = budget.book() if budget is not None else None
        if booking is not None:
            time.sleep(booking.wait)
        if request.form is not None:
            # Built for this try only: a resend reads each file from its start again.
            data = MultipartBody(request.form)
            headers["Content-Type"] = data.content_type
        deadline = time.monotonic() + self.settings.timeout
        try:
            with self.session.request(
                request.method,
                request.url(self.settings),
                data=data,
                headers=headers,
                timeout=self.settings.timeout,
                allow_redirects=not request.authenticated,
                stream=True,
            ) as response:
                body = sync_body(
                    response, max_bytes=MAX_JSON_BYTES, deadline=deadline, what=request.describe()
                )
                raw = RawResponse(response.status_code, response.headers, body)
        except requests.RequestException as err:
            raise transport_failure(self.settings, request, err) from None
        finally:
            if isinstance(data, MultipartBody):
                data.close()
        return paced_interpret(self.settings, request, raw, budget, booking)


class AsyncTransport:
    """Sends requests over one ``aiohttp.ClientSession``, opened on first use and reused until closed."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.budget = settings.budget()
        self._session: aiohttp.ClientSession | None = None

    async def send(self, request: ApiRequest) -> Any:
        """Send the request, resending it as the retry policy allows; return the decoded JSON answer."""
        if request.form is not None:
            # Files are read from the worker's storage, before a task defers; a trigger never sends them.
            raise ValueError(f"{request.describe()}: forms are sent by the sync transport only")
        attempts = Attempts(self.settings, request)
        while True:
            try:
                return await self._send_once(request)
            except ApiframeError as error:
                delay = attempts.delay_after(error)
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    async def close(self) -> None:
        """Close the session, if one was opened; the next request opens a new one."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send_once(self, request: ApiRequest) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        data = encode_body(request)
        budget = self.budget if request.authenticated else None
        booking: Booking | None = None
        if budget is not None:
            # A shared budget asks Redis: never on the event loop's thread.
            booking = await asyncio.to_thread(budget.book) if budget.blocking else budget.book()
            await asyncio.sleep(booking.wait)
        try:
            async with self._session.request(
                request.method,
                request.url(self.settings),
                data=data,
                headers=build_headers(self.settings, request),
                allow_redirects=not request.authenticated,
            ) as response:
                body = await async_body(response, max_bytes=MAX_JSON_BYTES, what=request.describe())
                raw = RawResponse(response.status, dict(response.headers), body)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise transport_failure(self.settings, request, err) from None
        if raw.status == 429 and budget is not None and budget.blocking:
            return await asyncio.to_thread(paced_interpret, self.settings, request, raw, budget, booking)
        return paced_interpret(self.settings, request, raw, budget, booking)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _clean_details(details: Any, settings: ClientSettings) -> dict[str, list[str]]:
    if not isinstance(details, Mapping):
        return {}
    return {
        _redact(str(path), settings): [
            _redact(str(m), settings) for m in (msgs if isinstance(msgs, list) else [msgs])
        ]
        for path, msgs in details.items()
    }


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _excerpt(body: bytes) -> str:
    text = body[:BODY_EXCERPT].decode("utf-8", errors="replace")
    return repr(text + ("..." if len(body) > BODY_EXCERPT else ""))


def _redact(text: str, settings: ClientSettings) -> str:
    # The API has no reason to echo the key, but a proxy or a future error text might, and libraries
    # quote what they echo: as Python's repr, as JSON, percent-encoded.
    key = settings.api_key
    if not key:
        return text
    for form in {key, repr(key)[1:-1], json.dumps(key)[1:-1], quote(key, safe="")}:
        text = text.replace(form, "***")
    return text
