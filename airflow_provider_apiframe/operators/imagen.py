"""
The operator that generates images with Imagen through apiframe.

DAG files import this module on every parse, so it imports neither ``requests``, ``aiohttp`` nor the http
provider: the hook and the trigger are imported where a task runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, ResumableJobMixin

from airflow_provider_apiframe.idempotency import task_instance_key
from airflow_provider_apiframe.jobs import JobStatus
from airflow_provider_apiframe.models import get_model
from airflow_provider_apiframe.polling import Event, result_from_event, terminal_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

# Room for the triggerer to deliver the trigger's own timeout event before Airflow's defer timeout fires.
DEFER_TIMEOUT_GRACE = 120.0


class ImagenGenerateOperator(ResumableJobMixin, BaseOperator):
    """
    Generate images with an Imagen model on apiframe and return their URLs.

    The task submits ``POST /v2/images/generate`` under an idempotency key made from the task instance
    and the request, so a retried try gets back the job it already paid for. It pushes the job id to XCom
    under ``job_id``, then (by default) defers to ``ApiframeJobTrigger`` and frees its worker slot. Its
    return value, and so its ``return_value`` XCom, is the list of image URLs. The CDN keeps them for 24
    hours: copy the files to your own storage downstream.

    On Airflow 3.3+ the job id is also kept in the task state store (``ResumableJobMixin``): a retry
    reconnects to a running job, or takes a finished one's images, without sending a submit at all, and
    only a FAILED or CANCELLED job is replaced. On older Airflow every try submits, and the idempotency
    key alone makes the API hand back the same job for 24 hours.

    :param prompt: What to draw, 1 to 2000 characters. Templated.
    :param aspect_ratio: ``1:1`` (default), ``9:16``, ``16:9``, ``3:4`` or ``4:3``. Templated.
    :param output_format: ``jpg`` (default) or ``png``. Templated.
    :param image_size: ``1K`` (default) or ``2K``. Templated.
    :param model: ``imagen-4`` (default), ``imagen-4-ultra``, ``imagen-4-fast``, ``imagen-3`` or
        ``imagen-3-fast``. Templated.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param deferrable: Wait on the triggerer (default) rather than in the worker.
    :param poll_interval: Longest wait between two status polls, in seconds. Polls come sooner when the
        job's progress says it is about to finish.
    :param timeout: Seconds (or a timedelta) the job may take from submit to end before the task fails.
    """

    template_fields: Sequence[str] = ("prompt", "aspect_ratio", "output_format", "image_size", "model")
    ui_color = "#f3e8ff"
    # Renaming this breaks the reconnection of tries already under way: their id is stored under it.
    external_id_key = "apiframe_job_id"

    def __init__(
        self,
        *,
        prompt: str,
        aspect_ratio: str = "1:1",
        output_format: str = "jpg",
        image_size: str = "1K",
        model: str = "imagen-4",
        apiframe_conn_id: str = "apiframe_default",
        deferrable: bool = True,
        poll_interval: float = 5.0,
        timeout: float | timedelta = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.aspect_ratio = aspect_ratio
        self.output_format = output_format
        self.image_size = image_size
        self.model = model
        self.apiframe_conn_id = apiframe_conn_id
        self.deferrable = deferrable
        self.poll_interval = _positive_seconds(self.task_id, "poll_interval", poll_interval)
        self.timeout = _positive_seconds(self.task_id, "timeout", timeout)
        self._finished: dict[str, list[str]] = {}
        # Literal values are checked now, so a typo fails the DAG import; templated ones once rendered.
        self._check(only_literals=True)

    @property
    def params_block(self) -> dict[str, Any]:
        return {
            "aspect_ratio": self.aspect_ratio,
            "output_format": self.output_format,
            "image_size": self.image_size,
        }

    def _check(self, *, only_literals: bool = False) -> None:
        def literal(value: Any) -> bool:
            if not only_literals:
                return True
            if isinstance(value, str):
                return "{{" not in value and "{%" not in value
            # An XComArg or other lazy value is checked once it is resolved.
            return isinstance(value, int | float | bool | type(None) | list | dict)

        if not literal(self.model):
            return
        model = get_model(self.model)
        if literal(self.prompt):
            model.check_prompt(self.prompt)
        for name, value in self.params_block.items():
            if literal(value):
                model.check_param(name, value)

    @cached_property
    def hook(self) -> ApiframeHook:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def execute(self, context: Context) -> list[str]:
        self._check()
        return self.execute_resumable(context)  # type: ignore[no-any-return]

    def submit_job(self, context: Context) -> str:
        ti = context["ti"]
        key = task_instance_key(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=ti.map_index if ti.map_index is not None else -1,
            model=self.model,
            prompt=self.prompt,
            params=self.params_block,
        )
        job_id = self.hook.submit_generation(self.model, self.prompt, self.params_block, idempotency_key=key)
        self.log.info("apiframe job %s submitted (%s, %s)", job_id, self.model, self.params_block)
        ti.xcom_push(key="job_id", value=job_id)
        return job_id

    def get_job_status(self, external_id: Any, context: Context) -> str:
        return self.hook.get_job(str(external_id)).status.value

    def is_job_active(self, status: str) -> bool:
        return not JobStatus(status).is_terminal

    def is_job_succeeded(self, status: str) -> bool:
        return JobStatus(status) is JobStatus.COMPLETED

    # The mixin returns this method's value as the task's result when it reconnects to a running job,
    # so the blocking path returns the image URLs rather than None.
    def poll_until_complete(self, external_id: Any, context: Context) -> list[str]:  # type: ignore[override]
        """Defer to the trigger (default), or wait here; return the image URLs when waiting here."""
        job_id = str(external_id)
        # Measured from now, also for a job a previous try submitted: the timeout is per try.
        started = time.time()
        deadline = started + self.timeout
        if self.deferrable:
            from airflow_provider_apiframe.triggers.apiframe import ApiframeJobTrigger

            self.defer(
                trigger=ApiframeJobTrigger(
                    job_id=job_id,
                    apiframe_conn_id=self.apiframe_conn_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                    submitted_at=started,
                    model=self.model,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout + DEFER_TIMEOUT_GRACE),
            )
        event = self.hook.wait_for_job(
            job_id,
            poll_interval=self.poll_interval,
            deadline=deadline,
            submitted_at=started,
            model=self.model,
        )
        self._finished[job_id] = self.execute_complete(context, event)
        return self._finished[job_id]

    def get_job_result(self, external_id: Any, context: Context) -> list[str]:
        job_id = str(external_id)
        if job_id not in self._finished:
            self._finished[job_id] = result_from_event(terminal_event(self.hook.get_job(job_id)))
        return self._finished[job_id]

    def execute_complete(self, context: Context, event: Event | None = None) -> list[str]:
        images = result_from_event(event)
        self.log.info("apiframe job %s completed with %d image(s)", (event or {}).get("job_id"), len(images))
        return images


def _positive_seconds(task_id: str, name: str, value: Any) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ValueError(
            f"{task_id}: {name} must be a positive number of seconds or a timedelta, got {value!r}"
        )
    return float(seconds)
