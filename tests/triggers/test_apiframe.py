"""The trigger run to its event against the emulator, and rebuilt from its serialized form."""

from __future__ import annotations

import asyncio
import importlib
import json
import time

import pytest

from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.triggers.apiframe import ApiframeJobTrigger


def make_trigger(job_id, timeout=10.0, poll_interval=0.2):
    now = time.time()
    return ApiframeJobTrigger(
        job_id=job_id,
        apiframe_conn_id="apiframe_default",
        poll_interval=poll_interval,
        deadline=now + timeout,
        submitted_at=now,
    )


async def collect(trigger):
    return [event.payload async for event in trigger.run()]


def rebuild(trigger):
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))


def test_serialize_round_trips_to_an_equal_trigger_of_plain_json():
    trigger = make_trigger("3f0c2a4e-0000-4000-8000-000000000001")
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_apiframe.triggers.apiframe.ApiframeJobTrigger"
    assert set(kwargs) == {"job_id", "apiframe_conn_id", "poll_interval", "deadline", "submitted_at", "model"}
    assert all(isinstance(v, str | float | None) for v in kwargs.values())
    assert rebuild(trigger).serialize() == (classpath, kwargs)


def test_kwargs_survive_the_sdk_serde_where_airflow_has_it():
    serde = pytest.importorskip("airflow.sdk.serde")
    _, kwargs = make_trigger("abc").serialize()
    assert serde.deserialize(serde.serialize(kwargs)) == kwargs


def test_runs_to_one_success_event_with_the_images(apiframe_conn):
    job_id = ApiframeHook().submit_generation(
        "imagen-4", "koi", {"output_format": "png"}, idempotency_key="t1"
    )
    events = asyncio.run(collect(make_trigger(job_id)))
    assert len(events) == 1
    [event] = events
    assert event["status"] == "success" and event["job_id"] == job_id
    assert len(event["images"]) == 1 and event["images"][0].endswith(".png")


def test_failed_job_gives_an_error_event_with_the_reason(apiframe_conn):
    job_id = ApiframeHook().submit_generation("imagen-4", "koi [fail]", {}, idempotency_key="t2")
    [event] = asyncio.run(collect(make_trigger(job_id)))
    assert event["status"] == "error" and event["reason"] == "failed" and "FAILED" in event["message"]


def test_cancelled_job(apiframe_conn):
    job_id = ApiframeHook().submit_generation("imagen-4", "koi [cancel]", {}, idempotency_key="t3")
    [event] = asyncio.run(collect(make_trigger(job_id)))
    assert event["reason"] == "cancelled"


def test_job_that_never_ends_times_out(apiframe_conn):
    job_id = ApiframeHook().submit_generation("imagen-4", "koi [never]", {}, idempotency_key="t4")
    started = time.monotonic()
    [event] = asyncio.run(collect(make_trigger(job_id, timeout=1.0)))
    assert event["reason"] == "timeout" and "did not finish" in event["message"]
    assert time.monotonic() - started < 3.0


def test_unknown_job_ends_with_not_found(apiframe_conn):
    [event] = asyncio.run(collect(make_trigger("00000000-0000-4000-8000-000000000000")))
    assert event["reason"] == "not_found"


def test_transient_poll_failures_do_not_end_the_trigger(apiframe_conn):
    job_id = ApiframeHook().submit_generation("imagen-4", "koi", {}, idempotency_key="t5")
    apiframe_conn.add_faults(
        {"method": "GET", "path": "/v2/jobs/", "action": "status", "status": 503, "times": 6},
        {"method": "GET", "path": "/v2/jobs/", "action": "drop_before", "times": 2},
    )
    [event] = asyncio.run(collect(make_trigger(job_id)))
    assert event["status"] == "success"
    assert apiframe_conn.stats()["jobs_created"] == 1


def test_restarted_trigger_resumes_the_same_job(apiframe_emulator_factory, monkeypatch):
    from tests.conftest import TEST_KEY, connection_uri

    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=1.5)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    job_id = ApiframeHook().submit_generation("imagen-4", "koi", {}, idempotency_key="t6")
    trigger = make_trigger(job_id)

    async def run_until_cancelled():
        task = asyncio.ensure_future(collect(trigger))
        await asyncio.sleep(0.4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_until_cancelled())
    assert ApiframeHook().get_job(job_id).status.value in ("QUEUED", "PROCESSING")
    [event] = asyncio.run(collect(rebuild(trigger)))
    assert event["status"] == "success" and event["job_id"] == job_id
    assert server.stats()["jobs_created"] == 1


def test_connection_without_key_gives_an_error_event(emulator, monkeypatch):
    from tests.conftest import connection_uri

    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, key=None))
    [event] = asyncio.run(collect(make_trigger("abc")))
    assert event["status"] == "error" and "Password" in event["message"]
