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
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeConfigurationError,
    ApiframeError,
    ApiframeInsufficientCreditsError,
    ApiframeNotFoundError,
    ApiframeRateLimitError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.pacing import Pacer, shared_pacer

if TYPE_CHECKING:
    import aiohttp
    import requests

log = logging.getLogger(__name__)

USER_AGENT = "airflow-provider-apiframe"
# Full-jitter backoff as the vendor's SDK does it, with more retries: a task that gives up on a 503
# burst costs the user an Airflow retry, a few more seconds here cost nothing.
BACKOFF_BASE = 0.25
BACKOFF_CAP = 8.0
# A Retry-After beyond this is treated as an outage rather than waited out inside one request.
RETRY_AFTER_CAP = 120.0
BODY_EXCERPT = 200


@dataclass(frozen=True)
class ClientSettings:
    """Everything a transport needs; built from the Airflow connection by the hook."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 60.0
    max_retries: int = 5
    # The API's budget per key (*assumed* 500/min); 0 turns pacing off.
    rate_limit_per_minute: int = 500

    # Connection-extra keys that configure the client rather than being sent as HTTP headers.
    EXTRA_KEYS = ("timeout", "max_retries", "rate_limit_per_minute")

    @classmethod
    def from_connection_extra(cls, base_url: str, api_key: str, extra: Mapping[str, Any]) -> ClientSettings:
        try:
            timeout = float(extra.get("timeout", cls.timeout))
            max_retries = int(extra.get("max_retries", cls.max_retries))
            rate_limit = int(extra.get("rate_limit_per_minute", cls.rate_limit_per_minute))
        except (TypeError, ValueError) as err:
            raise ApiframeConfigurationError(
                f"The connection's extra has an invalid timeout, max_retries or rate_limit_per_minute: {err}"
            ) from None
        if timeout <= 0 or max_retries < 0 or rate_limit < 0:
            raise ApiframeConfigurationError(
                "The connection's timeout must be > 0, max_retries and rate_limit_per_minute >= 0"
            )
        return cls(
            base_url=base_url.rstrip("/"),
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit_per_minute=rate_limit,
        )

    def pacer(self) -> Pacer | None:
        if not self.rate_limit_per_minute:
            return None
        return shared_pacer(self.base_url, self.api_key, self.rate_limit_per_minute)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    # False for the CDN: image URLs may live on another host, which must never see the key.
    authenticated: bool = True
    expect_json: bool = True

    @property
    def may_resend(self) -> bool:
        """A request that cannot create a second job: a read, or a write the server deduplicates."""
        return self.method == "GET" or self.idempotency_key is not None

    def describe(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, settings: ClientSettings) -> str:
        return self.path if "://" in self.path else settings.base_url + self.path


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


def build_headers(settings: ClientSettings, request: ApiRequest) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT}
    if request.expect_json:
        headers["Accept"] = "application/json"
    if request.authenticated:
        headers["X-API-Key"] = settings.api_key
    if request.body is not None:
        headers["Content-Type"] = "application/json"
    if request.idempotency_key is not None:
        headers["Idempotency-Key"] = request.idempotency_key
    return headers


def encode_body(request: ApiRequest) -> bytes | None:
    return None if request.body is None else json.dumps(request.body).encode()


def interpret(settings: ClientSettings, request: ApiRequest, response: RawResponse) -> Any:
    """The decoded JSON (or raw bytes) of a 2xx answer; anything else becomes the matching typed error."""
    if 200 <= response.status < 300:
        if not request.expect_json:
            return response.body
        try:
            return json.loads(response.body)
        except ValueError:
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
    status = response.status
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
        hint = (
            "check the API key in the connection's Password field"
            if status == 401
            else "the key is inactive or lacks permission for this request"
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
    if status == 429:
        return ApiframeRateLimitError(message, retry_after=parse_retry_after(response.headers))
    if status >= 500 and status != 501:
        return ApiframeTransientError(message, http_status=status)
    return ApiframeError(message, http_status=status)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
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
    settings: ClientSettings, request: ApiRequest, error: ApiframeError, attempt: int
) -> float | None:
    """Seconds to wait before resending after ``error`` on try number ``attempt`` (0-based), or None."""
    if attempt >= settings.max_retries:
        return None
    if isinstance(error, ApiframeRateLimitError):
        if error.retry_after is None:
            return backoff(attempt)
        if error.retry_after > RETRY_AFTER_CAP:
            return None
        # A little spread so that the tasks a 429 stopped together do not all come back together.
        return error.retry_after + random.uniform(0, min(1.0, 0.1 * error.retry_after + 0.05))
    if isinstance(error, ApiframeTransientError) and request.may_resend:
        return backoff(attempt)
    return None


def backoff(attempt: int) -> float:
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def transport_failure(
    settings: ClientSettings, request: ApiRequest, err: BaseException
) -> ApiframeTransientError:
    kind = "timed out" if isinstance(err, TimeoutError) or "Timeout" in type(err).__name__ else "failed"
    return ApiframeTransientError(
        _redact(f"{request.describe()} to {settings.base_url} {kind}: {type(err).__name__}: {err}", settings)
    )


def _log_retry(error: ApiframeError, attempt: int, delay: float) -> None:
    log.warning("%s; retry %d in %.2f s", error, attempt + 1, delay)


class SyncTransport:
    """Sends requests over one ``requests.Session``, reused for every call of a hook."""

    def __init__(self, settings: ClientSettings, session: requests.Session) -> None:
        self.settings = settings
        self.session = session
        self.pacer = settings.pacer()

    def send(self, request: ApiRequest) -> Any:
        attempt = 0
        while True:
            try:
                return interpret(self.settings, request, self._send_once(request))
            except ApiframeError as error:
                delay = retry_delay(self.settings, request, error, attempt)
                if delay is None:
                    raise
                _log_retry(error, attempt, delay)
                time.sleep(delay)
                attempt += 1

    def _send_once(self, request: ApiRequest) -> RawResponse:
        import requests

        if self.pacer is not None and request.authenticated:
            time.sleep(self.pacer.reserve(time.monotonic()))
        try:
            response = self.session.request(
                request.method,
                request.url(self.settings),
                data=encode_body(request),
                headers=build_headers(self.settings, request),
                timeout=self.settings.timeout,
            )
            return RawResponse(response.status_code, response.headers, response.content)
        except requests.RequestException as err:
            raise transport_failure(self.settings, request, err) from None


class AsyncTransport:
    """Sends requests over one ``aiohttp.ClientSession``, opened on first use and reused until closed."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.pacer = settings.pacer()
        self._session: aiohttp.ClientSession | None = None

    async def send(self, request: ApiRequest) -> Any:
        attempt = 0
        while True:
            try:
                return interpret(self.settings, request, await self._send_once(request))
            except ApiframeError as error:
                delay = retry_delay(self.settings, request, error, attempt)
                if delay is None:
                    raise
                _log_retry(error, attempt, delay)
                await asyncio.sleep(delay)
                attempt += 1

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send_once(self, request: ApiRequest) -> RawResponse:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        if self.pacer is not None and request.authenticated:
            await asyncio.sleep(self.pacer.reserve(time.monotonic()))
        try:
            async with self._session.request(
                request.method,
                request.url(self.settings),
                data=encode_body(request),
                headers=build_headers(self.settings, request),
            ) as response:
                return RawResponse(response.status, dict(response.headers), await response.read())
        except (aiohttp.ClientError, TimeoutError) as err:
            raise transport_failure(self.settings, request, err) from None


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _clean_details(details: Any, settings: ClientSettings) -> dict[str, list[str]]:
    if not isinstance(details, Mapping):
        return {}
    return {
        str(path): [_redact(str(m), settings) for m in (msgs if isinstance(msgs, list) else [msgs])]
        for path, msgs in details.items()
    }


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _excerpt(body: bytes) -> str:
    text = body[:BODY_EXCERPT].decode("utf-8", errors="replace")
    return repr(text + ("..." if len(body) > BODY_EXCERPT else ""))


def _redact(text: str, settings: ClientSettings) -> str:
    # The API has no reason to echo the key, but a proxy or a future error text might.
    return text.replace(settings.api_key, "***") if settings.api_key else text
