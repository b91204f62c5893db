"""ApiframeJobSensor: a job submitted elsewhere, waited for as the operators wait."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from airflow.providers.common.compat.sdk import PokeReturnValue, TaskDeferred

from airflow_provider_apiframe.exceptions import (
    ApiframeJobFailedError,
    ApiframeNotFoundError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.links import IMAGE_URL_XCOM
from airflow_provider_apiframe.sensors.apiframe import ApiframeJobSensor
from airflow_provider_apiframe.triggers.apiframe import ApiframeJobTrigger
from tests.operators.test_imagen import TaskInstance, first_event


def submitted(prompt: str = "koi", model: str = "imagen-4") -> str:
    return ApiframeHook().submit_generation(model, prompt, {}, idempotency_key=str(uuid.uuid4()))


def sensor(job_id: str, **kwargs) -> ApiframeJobSensor:
    return ApiframeJobSensor(task_id="wait", job_id=job_id, poke_interval=0.2, **kwargs)


@pytest.mark.parametrize("job_id", ["", "42", "not-a-uuid", None])
def test_a_malformed_job_id_is_refused_before_any_request(job_id, apiframe_conn):
    with pytest.raises(ApiframeValidationError) as info:
        sensor(job_id).execute({"ti": TaskInstance()})
    assert "job_id" in info.value.details and "UUID" in str(info.value)
    assert apiframe_conn.stats()["requests_by_key"] == {}


def test_a_running_job_defers_with_its_own_creation_time_and_model(apiframe_conn):
    job_id = submitted("koi [never]", model="imagen-4-fast")
    with pytest.raises(TaskDeferred) as deferred:
        sensor(job_id).execute({"ti": TaskInstance()})
    trigger = deferred.value.trigger
    assert isinstance(trigger, ApiframeJobTrigger) and trigger.job_id == job_id
    assert trigger.model == "imagen-4-fast"
    assert trigger.submitted_at == pytest.approx(ApiframeHook().get_job(job_id).created_at)


def test_deferred_sensor_returns_what_the_operator_would(apiframe_conn):
    job_id = submitted()
    with pytest.raises(TaskDeferred) as deferred:
        sensor(job_id).execute({"ti": TaskInstance()})
    ti = TaskInstance()
    urls = sensor(job_id).execute_complete({"ti": ti}, asyncio.run(first_event(deferred.value.trigger)))
    assert urls == ApiframeHook().get_job(job_id).images and ti.xcom[IMAGE_URL_XCOM] == urls[0]


def test_a_finished_job_gives_its_images_without_deferring(apiframe_conn):
    job_id = submitted()
    ApiframeHook().wait_for_job(job_id, poll_interval=0.2, deadline=9e9, submitted_at=0.0)
    urls = sensor(job_id).execute({"ti": TaskInstance()})
    assert urls == ApiframeHook().get_job(job_id).images


def test_poke_mode_returns_the_urls_as_the_sensor_value(apiframe_conn):
    job_id = submitted()
    poking = sensor(job_id, deferrable=False)
    results = []
    for _ in range(50):
        result = poking.poke({"ti": TaskInstance()})
        if result:
            results.append(result)
            break
        asyncio.run(asyncio.sleep(0.1))
    [done] = results
    assert isinstance(done, PokeReturnValue) and done.xcom_value == ApiframeHook().get_job(job_id).images


def test_a_failed_job_fails_the_sensor_with_the_api_reason(apiframe_conn):
    job_id = submitted("koi [fail]")
    with pytest.raises(ApiframeJobFailedError) as info:
        sensor(job_id, deferrable=False, timeout=30).execute({"ti": TaskInstance()})
    assert "content policy" in str(info.value)


def test_an_unknown_job_is_not_found(apiframe_conn):
    with pytest.raises(ApiframeNotFoundError):
        sensor(str(uuid.uuid4())).execute({"ti": TaskInstance()})
