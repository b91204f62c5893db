"""The request policy on its own: error mapping, Retry-After, which failures are resent."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import pytest

from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeError,
    ApiframeInsufficientCreditsError,
    ApiframeNotFoundError,
    ApiframePermanentError,
    ApiframeRateLimitError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.wire.transport import (
    BACKOFF_CAP,
    ApiRequest,
    ClientSettings,
    RawResponse,
    build_headers,
    interpret,
    parse_retry_after,
    retry_delay,
)

KEY = "afk_unit_test_secret_value"
SETTINGS = ClientSettings(base_url="http://127.0.0.1:1", api_key=KEY, max_retries=3)
GET = ApiRequest("GET", "/v2/jobs/x")
POST_KEYED = ApiRequest("POST", "/v2/images/generate", body={}, idempotency_key="k")
POST_BARE = ApiRequest("POST", "/v2/images/generate", body={})


def answer(status, body, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawResponse(status, headers or {}, raw)


def error_for(status, body, headers=None, request=GET):
    with pytest.raises(ApiframeError) as info:
        interpret(SETTINGS, request, answer(status, body, headers))
    return info.value


def test_2xx_json_is_returned():
    assert interpret(SETTINGS, GET, answer(200, {"id": "a"})) == {"id": "a"}


def test_validation_error_keeps_details_and_says_them():
    err = error_for(400, {"error": "Validation failed", "details": {"imagenParams.aspect_ratio": ["bad"]}})
    assert isinstance(err, ApiframeValidationError) and isinstance(err, ApiframePermanentError)
    assert err.details == {"imagenParams.aspect_ratio": ["bad"]}
    assert "imagenParams.aspect_ratio: bad" in str(err) and err.http_status == 400


def test_422_is_a_validation_error_too():
    assert isinstance(error_for(422, {"error": "Unprocessable"}), ApiframeValidationError)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors(status):
    err = error_for(status, {"error": "Invalid API key"})
    assert isinstance(err, ApiframeAuthError) and err.http_status == status
    assert "Invalid API key" in str(err)


def test_credits_error_keeps_and_says_both_numbers():
    err = error_for(402, {"error": "Insufficient credits", "creditsRequired": 7, "creditsAvailable": 3})
    assert isinstance(err, ApiframeInsufficientCreditsError)
    assert (err.credits_required, err.credits_available) == (7, 3)
    assert "needs 7 credits" in str(err) and "has 3" in str(err)


def test_not_found():
    assert isinstance(error_for(404, {"error": "Job not found"}), ApiframeNotFoundError)


def test_rate_limit_reads_retry_after_seconds():
    err = error_for(429, {"error": "slow down"}, {"Retry-After": "3"})
    assert isinstance(err, ApiframeRateLimitError) and err.retry_after == 3.0


def test_retry_after_as_http_date():
    value = formatdate(time.time() + 30, usegmt=True)
    assert 28 <= parse_retry_after({"retry-after": value}) <= 30


def test_retry_after_garbage_is_ignored():
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(status):
    assert isinstance(error_for(status, {"error": "down"}), ApiframeTransientError)


def test_501_is_not_transient():
    err = error_for(501, {"error": "no"})
    assert not isinstance(err, ApiframeTransientError)


@pytest.mark.parametrize("body", [b"<html>Bad gateway</html>", b"", json.dumps({"message": "x"}).encode()])
def test_error_without_json_error_field_quotes_status_and_body(body):
    err = error_for(502, body)
    assert isinstance(err, ApiframeTransientError)
    assert "HTTP 502" in str(err)
    assert body[:20].decode() in str(err)


def test_2xx_with_garbled_json_is_a_typed_transient_error():
    err = error_for(200, b'{"jobId": "abc"')
    assert isinstance(err, ApiframeUnexpectedResponseError) and isinstance(err, ApiframeTransientError)
    assert "not JSON" in str(err)


def test_key_echoed_by_the_server_is_redacted():
    err = error_for(401, {"error": f"key {KEY} is revoked", "details": {"x": [KEY]}})
    assert KEY not in str(err) and KEY not in repr(err.args)
    err = error_for(400, {"error": "bad", "details": {"apiKey": [f"{KEY} unknown"]}})
    assert KEY not in str(err) and KEY not in json.dumps(err.details)


def test_the_key_is_redacted_however_it_is_quoted_and_in_details_keys():
    from urllib.parse import quote

    key = 'afk_a"b\\c/d+e'  # characters that JSON, repr and percent-encoding each write differently
    settings = ClientSettings(base_url="http://127.0.0.1:1", api_key=key)
    forms = {key, json.dumps(key)[1:-1], repr(key)[1:-1], quote(key, safe="")}
    assert len(forms) == 4
    body = {"error": " ".join(forms), "details": {form: ["unknown"] for form in forms}}
    with pytest.raises(ApiframeError) as info:
        interpret(settings, GET, answer(400, body))
    text = str(info.value) + json.dumps(info.value.details)
    assert not [form for form in forms if form in text]
    assert text.count("***") >= len(forms)  # each form in the message, the details keys fold into one


def test_headers_carry_key_and_idempotency_only_where_due():
    headers = build_headers(SETTINGS, POST_KEYED)
    assert headers["X-API-Key"] == KEY and headers["Idempotency-Key"] == "k"
    public = build_headers(SETTINGS, ApiRequest("GET", "/v2/models", authenticated=False))
    assert "X-API-Key" not in public and "Idempotency-Key" not in public


def test_a_request_cannot_be_aimed_at_another_host():
    # Only a path under the base URL: the key goes to the configured host and nowhere else.
    with pytest.raises(ValueError, match="must start with '/'"):
        ApiRequest("GET", "http://elsewhere.example/x")
    assert ApiRequest("GET", "/v2/me").url(SETTINGS) == "http://127.0.0.1:1/v2/me"


def test_settings_repr_hides_the_key():
    assert KEY not in repr(SETTINGS)


def test_transient_errors_are_resent_for_get_and_keyed_post_but_not_bare_post():
    err = ApiframeTransientError("boom", http_status=503)
    assert retry_delay(SETTINGS, GET, err, 0, 0.0) is not None
    assert retry_delay(SETTINGS, POST_KEYED, err, 0, 0.0) is not None
    assert retry_delay(SETTINGS, POST_BARE, err, 0, 0.0) is None


def test_rate_limit_is_resent_even_for_bare_post_after_retry_after():
    err = ApiframeRateLimitError("slow", retry_after=2.0)
    delay = retry_delay(SETTINGS, POST_BARE, err, 0, 0.0)
    assert delay is not None and 2.0 <= delay <= 3.0


def test_an_optional_count_cap_still_ends_the_resends():
    err = ApiframeTransientError("boom", http_status=503)
    assert retry_delay(SETTINGS, GET, err, SETTINGS.max_retries, 0.0) is None


def test_resends_are_bounded_by_time_not_by_count():
    err = ApiframeTransientError("boom", http_status=503)
    unbounded = ClientSettings("http://x", KEY, retry_timeout=60.0)
    assert unbounded.max_retries is None
    assert retry_delay(unbounded, GET, err, 40, elapsed=10.0) is not None  # the 41st resend, 10 s in
    delays = [retry_delay(unbounded, GET, err, 10, elapsed=58.0) for _ in range(200)]
    # Only a resend that still fits in the 60 s is made: none that would land after it.
    assert all(d is None or d <= 2.0 for d in delays) and any(d is None for d in delays)
    assert retry_delay(unbounded, GET, err, 0, elapsed=60.5) is None


def test_a_retry_after_longer_than_the_retry_time_is_not_waited_out():
    err = ApiframeRateLimitError("slow", retry_after=400.0)
    assert retry_delay(ClientSettings("http://x", KEY, retry_timeout=300.0), GET, err, 0, 0.0) is None
    assert retry_delay(ClientSettings("http://x", KEY, retry_timeout=600.0), GET, err, 0, 0.0) is not None


@pytest.mark.parametrize(
    "err", [ApiframeValidationError("x"), ApiframeAuthError("x"), ApiframeNotFoundError("x")]
)
def test_permanent_errors_are_never_resent(err):
    assert retry_delay(SETTINGS, GET, err, 0, 0.0) is None


def test_backoff_is_full_jitter_and_capped():
    err = ApiframeTransientError("boom")
    delays = [retry_delay(ClientSettings("http://x", KEY), GET, err, 30, 0.0) for _ in range(200)]
    assert all(0 <= d <= BACKOFF_CAP for d in delays)
    assert max(delays) > BACKOFF_CAP / 2 and min(delays) < BACKOFF_CAP / 2


def test_bad_connection_settings_are_a_clear_error():
    from airflow_provider_apiframe.exceptions import ApiframeConfigurationError

    with pytest.raises(ApiframeConfigurationError, match="timeout"):
        ClientSettings.from_connection_extra("http://x", KEY, {"timeout": "soon"})
    with pytest.raises(ApiframeConfigurationError):
        ClientSettings.from_connection_extra("http://x", KEY, {"max_retries": -1})
    with pytest.raises(ApiframeConfigurationError, match="retry_timeout"):
        ClientSettings.from_connection_extra("http://x", KEY, {"retry_timeout": -5})
    with pytest.raises(ApiframeConfigurationError, match="rate_limit_per_minute"):
        ClientSettings.from_connection_extra("http://x", KEY, {"rate_limit_per_minute": 1})
