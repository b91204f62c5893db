"""The hook against the emulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import logging

import pytest
from PIL import Image

from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeConfigurationError,
    ApiframeInsufficientCreditsError,
    ApiframeNotFoundError,
    ApiframeTransientError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.wire.jobs import JobStatus
from tests.conftest import TEST_KEY, connection_uri

PARAMS = {"aspect_ratio": "16:9", "output_format": "png", "image_size": "1K"}


def wait_done(hook, job_id, timeout=10.0):
    import time

    now = time.time()
    return hook.wait_for_job(job_id, poll_interval=0.2, deadline=now + timeout, submitted_at=now)


def test_submit_poll_and_download(apiframe_conn, tmp_path):
    hook = ApiframeHook()
    job_id = hook.submit_generation("imagen-4", "koi in a pool", PARAMS, idempotency_key="k-1")
    event = wait_done(hook, job_id)
    assert event["status"] == "success" and event["credit_cost"] == 7
    job = hook.get_job(job_id)
    assert job.status is JobStatus.COMPLETED and job.images == event["images"]
    [path] = hook.download_images(job.images, tmp_path / "out")
    with Image.open(path) as image:
        assert (image.format, image.size) == ("PNG", (1408, 768))
    assert apiframe_conn.stats()["jobs_created"] == 1


def test_one_session_serves_every_call_of_a_hook(apiframe_conn):
    hook = ApiframeHook()
    hook.get_account()
    session = hook.transport.session
    hook.get_account()
    assert hook.transport.session is session


def test_same_idempotency_key_never_pays_twice(apiframe_conn):
    hook = ApiframeHook()
    first = hook.submit_generation("imagen-4", "koi", PARAMS, idempotency_key="same")
    second = ApiframeHook().submit_generation("imagen-4", "koi", PARAMS, idempotency_key="same")
    assert first == second
    stats = apiframe_conn.stats()
    assert stats["jobs_created"] == 1 and stats["idempotent_replays"] == 1 and stats["credits_charged"] == 7


def test_failed_job_under_a_key_is_resubmitted_under_its_successor(apiframe_conn):
    hook = ApiframeHook()
    failed = hook.submit_generation("imagen-4", "koi [fail]", {}, idempotency_key="chain")
    assert wait_done(hook, failed)["reason"] == "failed"
    retried = hook.submit_generation("imagen-4", "koi [fail]", {}, idempotency_key="chain")
    assert retried != failed
    again = hook.submit_generation("imagen-4", "koi [fail]", {}, idempotency_key="chain")
    assert again == retried  # the successor key replays the second job, it does not pay a third time
    assert apiframe_conn.stats()["jobs_created"] == 2


def test_test_connection_reads_the_balance_without_spending(apiframe_conn):
    ok, message = ApiframeHook().test_connection()
    assert ok and "1000 credits" in message
    assert apiframe_conn.stats()["credits_charged"] == 0 and apiframe_conn.stats()["jobs_created"] == 0


def test_wrong_key_is_an_auth_error_that_names_the_fix(emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, key="afk_wrong_key_12345")
    )
    with pytest.raises(ApiframeAuthError) as info:
        ApiframeHook().submit_generation("imagen-4", "koi", {})
    assert info.value.http_status == 401 and "Password" in str(info.value)
    assert "afk_wrong_key_12345" not in str(info.value)
    ok, message = ApiframeHook().test_connection()
    assert not ok and "401" in message


def test_inactive_key_is_a_403_auth_error(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), inactive_keys=("afk_inactive_key_1",))
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url, key="afk_inactive_key_1"))
    with pytest.raises(ApiframeAuthError) as info:
        ApiframeHook().get_account()
    assert info.value.http_status == 403


def test_connection_without_key_fails_before_any_request(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, key=None))
    with pytest.raises(ApiframeConfigurationError, match="Password"):
        ApiframeHook().submit_generation("imagen-4", "koi", {})
    assert emulator.stats()["submits"] == 0


def test_insufficient_credits_says_both_numbers(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), credits=3)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    with pytest.raises(ApiframeInsufficientCreditsError) as info:
        ApiframeHook().submit_generation("imagen-4", "koi", {}, idempotency_key="poor")
    assert (info.value.credits_required, info.value.credits_available) == (7, 3)
    assert server.stats()["jobs_created"] == 0 and server.stats()["submits"] == 1


def test_server_side_validation_error_keeps_details(apiframe_conn):
    # Sent as a raw body, around the client's own checks, to see the server's 400 as the user would.
    with pytest.raises(ApiframeValidationError) as info:
        ApiframeHook().submit(
            {"prompt": "koi", "model": "imagen-4", "imagenParams": {"aspect_ratio": "2:1"}}, "v"
        )
    assert "imagenParams.aspect_ratio" in info.value.details and info.value.http_status == 400
    assert apiframe_conn.stats()["submits"] == 1


def test_client_side_validation_sends_nothing(apiframe_conn):
    with pytest.raises(ApiframeValidationError):
        ApiframeHook().submit_generation("imagen-4", "koi", {"aspect_ratio": "2:1"})
    assert apiframe_conn.stats()["submits"] == 0


def test_unknown_job_is_not_found(apiframe_conn):
    with pytest.raises(ApiframeNotFoundError):
        ApiframeHook().get_job("00000000-0000-4000-8000-000000000000")


def test_503_during_submit_is_retried_with_the_same_key(apiframe_conn):
    apiframe_conn.add_faults(
        {"method": "POST", "path": "/v2/images/generate", "action": "status", "status": 503, "times": 2}
    )
    job_id = ApiframeHook().submit_generation("imagen-4", "koi", {}, idempotency_key="k503")
    stats = apiframe_conn.stats()
    assert job_id and stats["jobs_created"] == 1 and stats["responses_by_status"]["503"] == 2


def test_dropped_connection_after_the_server_created_the_job_does_not_pay_twice(apiframe_conn):
    apiframe_conn.add_faults(
        {"method": "POST", "path": "/v2/images/generate", "action": "drop_after", "times": 1}
    )
    job_id = ApiframeHook().submit_generation("imagen-4", "koi", {}, idempotency_key="kdrop")
    stats = apiframe_conn.stats()
    assert stats["jobs_created"] == 1 and stats["idempotent_replays"] == 1 and stats["credits_charged"] == 7
    assert ApiframeHook().get_job(job_id).status in (
        JobStatus.QUEUED,
        JobStatus.PROCESSING,
        JobStatus.COMPLETED,
    )


def test_429_waits_as_retry_after_says(apiframe_conn):
    import time

    apiframe_conn.add_faults(
        {"method": "GET", "path": "/v2/me", "action": "status", "status": 429, "retry_after": 1, "times": 1}
    )
    started = time.monotonic()
    ApiframeHook().get_account()
    assert time.monotonic() - started >= 1.0
    assert apiframe_conn.stats()["responses_by_status"]["429"] == 1


def test_transient_errors_past_the_retry_budget_surface_typed(apiframe_conn, caplog):
    apiframe_conn.add_faults(
        {"method": "GET", "path": "/v2/me", "action": "status", "status": 502, "times": 10}
    )
    with caplog.at_level(logging.WARNING), pytest.raises(ApiframeTransientError) as info:
        ApiframeHook().get_account()
    assert info.value.http_status == 502
    assert apiframe_conn.stats()["responses_by_status"]["502"] == 4  # first try + max_retries=3
    assert TEST_KEY not in caplog.text


def test_host_that_does_not_answer_is_a_transient_error(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT", "apiframe://:afk_x@127.0.0.1:9?max_retries=0&timeout=2"
    )
    with pytest.raises(ApiframeTransientError, match=r"127\.0\.0\.1:9"):
        ApiframeHook().get_account()


def test_async_client_polls_over_one_session(apiframe_conn):
    hook = ApiframeHook()
    job_id = hook.submit_generation("imagen-4", "koi", {}, idempotency_key="async")

    async def poll():
        async with hook.async_client() as client:
            sessions = set()
            for _ in range(50):
                job = await client.get_job(job_id)
                sessions.add(id(client.transport._session))
                if job.status.is_terminal:
                    return job, sessions
                await asyncio.sleep(0.05)
        raise AssertionError("job did not finish")

    job, sessions = asyncio.run(poll())
    assert job.status is JobStatus.COMPLETED and len(sessions) == 1


def test_connection_uri_with_scheme_in_host_and_extras(emulator, monkeypatch):
    from urllib.parse import quote

    host = quote(emulator.url, safe="")
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", f"apiframe://:{TEST_KEY}@{host}?timeout=7")
    hook = ApiframeHook()
    assert hook.transport.settings.base_url == emulator.url and hook.transport.settings.timeout == 7
    assert "timeout" not in hook.transport.session.headers
    assert hook.get_account()["team"]["credits"] == 1000


def test_default_host_is_the_real_api(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", "apiframe://:afk_x@")
    assert ApiframeHook().transport.settings.base_url == "https://api.apiframe.ai"


def test_unknown_connection_id_is_a_clear_error():
    with pytest.raises(Exception, match="no_such_conn"):
        ApiframeHook("no_such_conn").get_account()


def test_submit_that_times_out_is_resent_and_still_pays_once(emulator, monkeypatch):
    import time

    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, timeout=0.5, max_retries=3)
    )
    emulator.add_faults(
        {"method": "POST", "path": "/v2/images/generate", "action": "delay", "delay": 1.0, "times": 1}
    )
    job_id = ApiframeHook().submit_generation("imagen-4", "koi", {}, idempotency_key="slow")
    time.sleep(1.2)  # let the slow first request end on the server too
    stats = emulator.stats()
    assert stats["submits"] == 2 and stats["jobs_created"] == 1
    assert ApiframeHook().submit_generation("imagen-4", "koi", {}, idempotency_key="slow") == job_id


def test_credit_check_for_a_batch_spends_nothing(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), credits=20)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    assert ApiframeHook().ensure_credits("imagen-4", 2) == 20
    with pytest.raises(ApiframeInsufficientCreditsError) as info:
        ApiframeHook().ensure_credits("imagen-4", 3)
    assert (info.value.credits_required, info.value.credits_available) == (21, 20)
    assert "the batch needs 21 credits for 3 jobs and the team has 20" in str(info.value)
    assert server.stats()["submits"] == 0 and server.stats()["credits_balance"] == 20


def finished_jobs(hook, count):
    """Jobs of imagen-4 already over, as an account that has run before has; this process forgets them."""
    from airflow_provider_apiframe.waiting.durations import forget_all

    for i in range(count):
        wait_done(hook, hook.submit_generation("imagen-4", f"earlier {i}", {}, idempotency_key=f"e-{i}"))
    forget_all()


def test_a_wait_new_to_the_model_learns_its_durations_from_a_page_for_no_extra_request(apiframe_conn):
    import time

    from airflow_provider_apiframe.waiting.durations import history_for

    hook = ApiframeHook()
    finished_jobs(hook, 6)
    before = apiframe_conn.stats()
    job_id = hook.submit_generation("imagen-4", "koi", {}, idempotency_key="k-page")
    now = time.time()
    time.sleep(1.5)  # over by the first poll
    event = hook.wait_for_job(
        job_id, poll_interval=0.2, deadline=now + 10, submitted_at=now, model="imagen-4"
    )
    after = apiframe_conn.stats()
    assert event["status"] == "success" and event["job_id"] == job_id
    # The job was read off the page that taught the six earlier durations.
    assert (after["list_requests"] - before["list_requests"], after["polls"] - before["polls"]) == (1, 0)
    assert history_for("imagen-4").known_durations == 7


def test_a_job_the_newest_page_does_not_show_is_asked_for_by_id(apiframe_conn):
    import time

    hook = ApiframeHook()
    job_id = hook.submit_generation("imagen-4", "koi", {}, idempotency_key="k-other")
    before = apiframe_conn.stats()
    now = time.time()
    # Waited for under another model's name: the page of that model cannot show it.
    event = hook.wait_for_job(
        job_id, poll_interval=0.2, deadline=now + 10, submitted_at=now, model="flux-1.1-pro"
    )
    after = apiframe_conn.stats()
    assert event["status"] == "success"
    # One page, then by id: a page that did not show the job once is not asked again.
    assert after["list_requests"] - before["list_requests"] == 1 and after["polls"] - before["polls"] >= 1
