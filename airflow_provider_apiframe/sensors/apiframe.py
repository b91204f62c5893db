"""
A sensor for an apiframe job submitted elsewhere: another DAG, another system, the vendor's console.

DAG files import this module on every parse, so it imports neither ``requests``, ``aiohttp`` nor the http
provider: the hook and the trigger are imported where the task runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.links import ApiframeImageLink, finished, link_pending
from airflow_provider_apiframe.operators.arguments import DEFER_TIMEOUT_GRACE, positive_seconds
from airflow_provider_apiframe.operators.job import ApiframeHookMixin
from airflow_provider_apiframe.utils.ids import is_uuid
from airflow_provider_apiframe.waiting.events import JobEvent

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_apiframe.wire.jobs import Job


class ApiframeJobSensor(ApiframeHookMixin, BaseSensorOperator):
    """
    Wait for an apiframe job to end and return its image URLs, as ``ApiframeImageGenerateOperator`` does.

    The sensor reads the job once (``GET /v2/jobs/{id}``): a job that has already ended gives its
    result at once. Otherwise, by default, it defers to ``ApiframeJobTrigger`` and frees its worker
    slot; the triggerer polls as it does for the operators (from the job's progress and its model's
    learned durations, sharing ``GET /v2/jobs`` pages with every other wait of the connection). With
    ``deferrable=False`` it pokes every ``poke_interval`` seconds in the worker (``mode="reschedule"``
    frees the slot between pokes). A FAILED or CANCELLED job fails the task with
    ``ApiframeJobFailedError``; a job that outlives ``timeout`` with ``ApiframeJobTimeoutError``.

    :param job_id: The job's id, the ``jobId`` of its submit answer (a UUID). Templated, so it can come
        from another DAG's XCom: ``{{ ti.xcom_pull(dag_id=..., task_ids=..., key='job_id') }}``.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param deferrable: Wait on the triggerer (default) rather than in the worker.
    :param poke_interval: Longest wait between two status reads, in seconds (default 5).
    :param timeout: Seconds (or a timedelta) the sensor waits for the job to end (default 600).
    """

    template_fields: Sequence[str] = ("job_id",)
    ui_color = "#f3e8ff"
    operator_extra_links = (ApiframeImageLink(),)

    def __init__(
        self,
        *,
        job_id: str,
        apiframe_conn_id: str = "apiframe_default",
        deferrable: bool = True,
        poke_interval: float | timedelta = 5.0,
        timeout: float | timedelta = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.job_id = job_id
        self.apiframe_conn_id = apiframe_conn_id
        self.deferrable = deferrable
        self._poll_interval = positive_seconds(self.task_id, "poke_interval", poke_interval)
        self._timeout = positive_seconds(self.task_id, "timeout", timeout)

    def _check_job_id(self) -> str:
        if not isinstance(self.job_id, str) or not is_uuid(self.job_id.strip()):
            raise ApiframeValidationError(
                "Invalid job id",
                details={
                    "job_id": [f"must be a job's UUID (the submit answer's jobId), got {self.job_id!r}"]
                },
            )
        return self.job_id.strip()

    def execute(self, context: Context) -> Any:
        """Return a finished job's images at once; otherwise defer (or poke, when not deferrable)."""
        link_pending(context)
        job_id = self._check_job_id()
        if not self.deferrable:
            return super().execute(context)
        job = self.hook.get_job(job_id)
        if job.status.is_terminal:
            return finished(context, _terminal_event(job), self.log)["images"]
        self._defer(job)
        return None  # not reached: defer() raises

    def _defer(self, job: Job) -> None:
        from airflow_provider_apiframe.triggers.apiframe import ApiframeJobTrigger

        now = time.time()
        self.defer(
            trigger=ApiframeJobTrigger(
                job_id=job.id,
                apiframe_conn_id=self.apiframe_conn_id,
                poll_interval=self._poll_interval,
                deadline=now + self._timeout,
                # The job's own creation time places it on the list pages and dates its progress.
                submitted_at=job.created_at if job.created_at is not None else now,
                model=job.model,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self._timeout + DEFER_TIMEOUT_GRACE),
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Read the job once; when it has ended, return its images (or raise its error)."""
        job = self.hook.get_job(self._check_job_id())
        if not job.status.is_terminal:
            self.log.info("Job %s is %s (progress %s)", job.id, job.status.value, job.progress)
            return False
        return PokeReturnValue(
            is_done=True, xcom_value=finished(context, _terminal_event(job), self.log)["images"]
        )

    def execute_complete(self, context: Context, event: JobEvent | None = None) -> list[str]:
        """Turn the trigger's end event into the job's images, or its typed error."""
        return finished(context, event, self.log)["images"]


def _terminal_event(job: Job) -> JobEvent:
    """Return the end event of a job that has ended, as the trigger would send it."""
    from airflow_provider_apiframe.waiting.watch import terminal_event

    return terminal_event(job)
