"""The operator's own logic: validation, deferral, completion, the blocking path.

Airflow's task runner is replaced here by the least it provides (a task instance that takes XCom
pushes); the real runner is exercised by tests/integration/dags, the API by the emulator in both.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_apiframe.exceptions import ApiframeJobFailedError, ApiframeValidationError
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator
from airflow_provider_apiframe.triggers.apiframe import ApiframeJobTrigger
from tests.conftest import RESUMES_FROM_TASK_STATE, TASK_XCOMS, xcom_place


@dataclass
class TaskInstance:
    dag_id: str = "dag"
    run_id: str = "manual__1"
    task_id: str = "generate"
    map_index: int = -1
    xcom: dict = field(default_factory=dict)
    stats_tags: dict = field(default_factory=dict)

    def xcom_push(self, key, value):
        self.xcom[key] = value
        TASK_XCOMS[xcom_place(self, key)] = json.loads(json.dumps(value))


def operator(**kwargs):
    kwargs.setdefault("task_id", "generate")
    kwargs.setdefault("prompt", "koi in a pool")
    kwargs.setdefault("poll_interval", 0.2)
    return ImagenGenerateOperator(**kwargs)


async def first_event(trigger):
    async for event in trigger.run():
        return event.payload


@pytest.mark.parametrize(
    ("kwargs", "path", "needle"),
    [
        ({"aspect_ratio": "2:1"}, "imagenParams.aspect_ratio", "16:9"),
        ({"output_format": "webp"}, "imagenParams.output_format", "png"),
        ({"image_size": "4K"}, "imagenParams.image_size", "2K"),
        ({"prompt": "  "}, "prompt", "empty"),
        ({"prompt": "x" * 2001}, "prompt", "2000"),
        ({"prompt": 12}, "prompt", "string"),
        ({"model": "imagen-9"}, "model", "imagen-4"),
    ],
)
def test_literal_bad_values_fail_when_the_dag_is_parsed(kwargs, path, needle):
    with pytest.raises(ApiframeValidationError) as info:
        operator(**kwargs)
    assert path in info.value.details and needle in str(info.value)
    # The task, and the argument as the DAG wrote it, with the API's field beside it.
    [argument] = kwargs
    named = path if argument == path else f"{argument} [{path}]"
    assert str(info.value).startswith("Task 'generate': ") and f"({named}: " in str(info.value)


@pytest.mark.parametrize("face", ["single", "batch"])
def test_both_imagen_faces_refuse_a_model_that_is_not_imagen(face):
    from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator

    with pytest.raises(ApiframeValidationError) as info:
        if face == "single":
            operator(model="flux-1.1-pro")
        else:
            ImagenBatchGenerateOperator(task_id="generate", prompts=["koi"], model="flux-1.1-pro")
    assert "Not an Imagen model" in str(info.value)
    assert "imagen-4" in info.value.details["model"][0] and "flux-1.1-pro" in info.value.details["model"][0]


def test_templated_values_are_checked_once_rendered(apiframe_conn):
    op = operator(aspect_ratio="{{ params.ratio }}")
    op.aspect_ratio = "2:1"  # what rendering produced
    with pytest.raises(ApiframeValidationError, match="aspect_ratio"):
        op.execute({"ti": TaskInstance()})
    assert apiframe_conn.stats()["submits"] == 0


def test_templated_fields():
    assert set(ImagenGenerateOperator.template_fields) >= {
        "prompt",
        "aspect_ratio",
        "output_format",
        "image_size",
    }


def test_defers_with_the_job_then_returns_the_image_urls(apiframe_conn):
    op = operator(timeout=timedelta(minutes=5), output_format="png")
    ti = TaskInstance()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    trigger = deferred.value.trigger
    assert isinstance(trigger, ApiframeJobTrigger) and trigger.job_id == ti.xcom["job_id"]
    assert deferred.value.method_name == "execute_complete"
    assert trigger.deadline - trigger.submitted_at == pytest.approx(300)
    event = asyncio.run(first_event(trigger))
    urls = op.execute_complete({"ti": ti}, event)
    assert len(urls) == 1 and urls[0].endswith(".png")


def test_a_retried_try_gets_the_job_the_first_try_paid_for(apiframe_conn):
    first, second = TaskInstance(), TaskInstance()
    for ti in (first, second):
        with pytest.raises(TaskDeferred):
            operator().execute({"ti": ti})
    assert first.xcom["job_id"] == second.xcom["job_id"]
    assert apiframe_conn.stats()["jobs_created"] == 1


def test_mapped_instances_get_jobs_of_their_own(apiframe_conn):
    ids = set()
    for index in range(3):
        ti = TaskInstance(map_index=index)
        with pytest.raises(TaskDeferred):
            operator().execute({"ti": ti})
        ids.add(ti.xcom["job_id"])
    assert len(ids) == 3


def test_blocking_mode_returns_the_urls(apiframe_conn):
    ti = TaskInstance()
    urls = operator(deferrable=False, aspect_ratio="9:16").execute({"ti": ti})
    assert len(urls) == 1 and ti.xcom["job_id"] in urls[0]


def test_blocking_mode_raises_the_api_reason_for_a_failed_job(apiframe_conn):
    with pytest.raises(ApiframeJobFailedError) as info:
        operator(deferrable=False, prompt="koi [fail]").execute({"ti": TaskInstance()})
    assert info.value.status == "FAILED" and "content policy" in str(info.value)


def test_execute_complete_raises_on_error_event():
    with pytest.raises(ApiframeJobFailedError, match="boom"):
        operator().execute_complete(
            {}, {"status": "error", "reason": "failed", "job_id": "j", "message": "boom"}
        )


class StateStore(dict):
    """What ``context["task_state_store"]`` offers on Airflow 3.3: get and set of JSON values."""

    def set(self, key, value):
        self[key] = value


needs_task_state_store = pytest.mark.skipif(
    not RESUMES_FROM_TASK_STATE,
    reason="ResumableJobMixin reconnects on Airflow 3.3+ only; older versions rely on the idempotency key",
)


@needs_task_state_store
def test_retry_after_the_job_completed_takes_its_images_without_a_submit(apiframe_conn):
    store = StateStore()
    first = TaskInstance()
    urls = operator(deferrable=False).execute({"ti": first, "task_state_store": store})
    assert store["apiframe_job_id"] == first.xcom["job_id"]
    submits = apiframe_conn.stats()["submits"]
    again = operator(deferrable=False).execute({"ti": TaskInstance(), "task_state_store": store})
    assert again == urls
    assert apiframe_conn.stats()["submits"] == submits and apiframe_conn.stats()["jobs_created"] == 1


@needs_task_state_store
def test_retry_while_the_job_runs_defers_on_it_again_without_a_submit(apiframe_conn):
    store = StateStore()
    with pytest.raises(TaskDeferred) as first:
        operator(prompt="koi [never]").execute({"ti": TaskInstance(), "task_state_store": store})
    with pytest.raises(TaskDeferred) as second:
        operator(prompt="koi [never]").execute({"ti": TaskInstance(), "task_state_store": store})
    assert first.value.trigger.job_id == second.value.trigger.job_id
    assert apiframe_conn.stats()["submits"] == 1


@needs_task_state_store
def test_retry_after_a_failed_job_submits_a_new_one(apiframe_conn):
    store = StateStore()
    with pytest.raises(ApiframeJobFailedError):
        operator(deferrable=False, prompt="koi [fail]").execute(
            {"ti": TaskInstance(), "task_state_store": store}
        )
    failed = store["apiframe_job_id"]
    with pytest.raises(ApiframeJobFailedError):
        operator(deferrable=False, prompt="koi [fail]").execute(
            {"ti": TaskInstance(), "task_state_store": store}
        )
    assert store["apiframe_job_id"] != failed
    assert apiframe_conn.stats()["jobs_created"] == 2
