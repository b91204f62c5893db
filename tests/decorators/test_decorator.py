"""``@task.apiframe_image``: options sorted out of the decorator's arguments, the prompt from the function."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from airflow.providers.common.compat.sdk import DAG, TaskDeferred, task

from airflow_provider_apiframe.decorators.apiframe_image import ApiframeImageDecoratedOperator
from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from tests.operators.test_imagen import TaskInstance, first_event


def build(function, *args, **decorator_kwargs):
    decorator_kwargs.setdefault("task_id", "poster")
    with DAG("decorated", start_date=datetime(2026, 1, 1), schedule=None):
        made = task.apiframe_image(**decorator_kwargs)(function)(*args)
    return made.operator


def test_options_named_by_the_model_block_are_image_options_the_rest_operator_arguments():
    op = build(lambda: "koi", model="imagen-4", aspect_ratio="16:9", retries=3, poll_interval=1.5)
    assert isinstance(op, ApiframeImageDecoratedOperator)
    assert op.image_options == {"aspect_ratio": "16:9"}
    assert (op.retries, op.poll_interval, op.model) == (3, 1.5, "imagen-4")


def test_a_bad_option_fails_the_dag_import():
    with pytest.raises(ApiframeValidationError, match=r"imagenParams.aspect_ratio"):
        build(lambda: "koi", model="imagen-4", aspect_ratio="7:5")


def test_the_function_writes_the_prompt_and_may_override_options(apiframe_conn):
    def poster(city: str) -> dict:
        return {"prompt": f"A travel poster of {city}", "aspect_ratio": "1:1"}

    op = build(poster, "Lisbon", model="imagen-4", aspect_ratio="16:9", output_format="png")
    ti = TaskInstance()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    job = ApiframeHook().get_job(ti.xcom["job_id"])
    assert job.model == "imagen-4"
    urls = op.execute_complete({"ti": ti}, asyncio.run(first_event(deferred.value.trigger)))
    assert urls[0].endswith(".png")
    assert ApiframeHook().get_job(ti.xcom["job_id"]).images == urls


@pytest.mark.parametrize("returned", [None, 42, {"aspect_ratio": "1:1"}])
def test_a_function_that_returns_no_prompt_fails_before_any_submit(returned, apiframe_conn):
    op = build(lambda: returned, model="imagen-4")
    with pytest.raises(ApiframeValidationError, match="must return the prompt"):
        op.execute({"ti": TaskInstance()})
    assert apiframe_conn.stats()["submits"] == 0


def test_an_option_the_function_returns_is_checked_before_any_submit(apiframe_conn):
    op = build(lambda: {"prompt": "koi", "image_size": "8K"}, model="imagen-4")
    with pytest.raises(ApiframeValidationError, match=r"imagenParams.image_size"):
        op.execute({"ti": TaskInstance()})
    assert apiframe_conn.stats()["submits"] == 0
