"""
The operator that generates images with any apiframe image model.

DAG files import this module on every parse, so it imports neither ``requests``, ``aiohttp`` nor the http
provider: the hook and the trigger are imported where a task runs. The model catalogue is read on the
first check of a model, not on import.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, ResumableJobMixin

from airflow_provider_apiframe.catalogue.image_models import get_model
from airflow_provider_apiframe.lineage import generation_lineage
from airflow_provider_apiframe.links import ApiframeImageLink, finished, link_pending
from airflow_provider_apiframe.operators.arguments import (
    DEFER_TIMEOUT_GRACE,
    errors_named_for,
    is_literal,
    positive_seconds,
)
from airflow_provider_apiframe.waiting.events import JobEvent
from airflow_provider_apiframe.waiting.watch import terminal_event
from airflow_provider_apiframe.wire.idempotency import task_instance_key
from airflow_provider_apiframe.wire.jobs import JobStatus

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

CREDIT_COST_XCOM = "credit_cost"


class ApiframeImageGenerateOperator(ResumableJobMixin, BaseOperator):
    """
    Generate images with any apiframe image model and return their URLs.

    ``image_options`` is the model's parameter block (``fluxParams``, ``ideogramParams``, ...) as the
    vendor's spec defines it; it is checked against the model catalogue before anything is spent: an
    unknown key, a wrong type, a value out of range or a missing required input fails with an error
    naming the field and what it allows. (It is not called ``params``: Airflow reserves that name for a
    task's Params and merges the DAG's into it.)

    The task submits ``POST /v2/images/generate`` under an idempotency key made from the task instance
    and the request, so a retried try gets back the job it already paid for. It pushes the job id to XCom
    under ``job_id``, then (by default) defers to ``ApiframeJobTrigger`` and frees its worker slot. Its
    return value, and so its ``return_value`` XCom, is the list of image URLs. The CDN keeps them for 24
    hours: copy the files to your own storage downstream. The credits the job cost are pushed under
    ``credit_cost`` (None where the API did not say).

    On Airflow 3.3+ the job id is also kept in the task state store (``ResumableJobMixin``): a retry
    reconnects to a running job, or takes a finished one's images, without sending a submit at all, and
    only a FAILED or CANCELLED job is replaced. On older Airflow every try submits, and the idempotency
    key alone makes the API hand back the same job for 24 hours.

    :param model: Any model of the catalogue (``flux-1.1-pro``, ``ideogram-v3-turbo``, ``imagen-4``,
        ...). Templated.
    :param prompt: What to draw, 1 to 2000 characters (5000 for some models). Templated.
    :param image_options: The model's parameter block, e.g. ``{"width": 1024, "height": 768}`` for
        Flux. Templated.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param deferrable: Wait on the triggerer (default) rather than in the worker.
    :param poll_interval: Longest wait between two status polls, in seconds. Polls come sooner when the
        job's progress says it is about to finish.
    :param timeout: Seconds (or a timedelta) the job may take from submit to end before the task fails.
    :param store_to: A data set folder on any object storage (``file://``, ``s3://``, ...): the images
        are copied there with their manifest, as ``ApiframeStoreImagesOperator`` does, and the task
        returns the stored paths instead of the CDN URLs: local paths for a local folder, URLs for
        object storage. Templated.
    :param store_conn_id: The Airflow connection with the storage's credentials, if it needs one.
    """

    template_fields: Sequence[str] = ("prompt", "model", "image_options", "store_to")
    ui_color = "#f3e8ff"
    operator_extra_links = (ApiframeImageLink(),)
    # Renaming this breaks the reconnection of tries already under way: their id is stored under it.
    external_id_key = "apiframe_job_id"

    def __init__(
        self,
        *,
        model: str,
        prompt: str,
        image_options: Mapping[str, Any] | None = None,
        apiframe_conn_id: str = "apiframe_default",
        deferrable: bool = True,
        poll_interval: float = 5.0,
        timeout: float | timedelta = 600.0,
        store_to: str | None = None,
        store_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.store_to = store_to
        self.store_conn_id = store_conn_id
        self.prompt = prompt
        self.model = model
        self.image_options = image_options if image_options is not None else {}
        self.apiframe_conn_id = apiframe_conn_id
        self.deferrable = deferrable
        self.poll_interval = positive_seconds(self.task_id, "poll_interval", poll_interval)
        self.timeout = positive_seconds(self.task_id, "timeout", timeout)
        self._finished: dict[str, list[str]] = {}
        # What this try produced and stored, for lineage; the try that ends the task fills them.
        self._images: list[str] = []
        self._stored: list[str] = []
        # Literal values are checked now, so a typo fails the DAG import; templated ones once rendered.
        with errors_named_for(self.task_id, self.argument_for):
            self._check(only_literals=True)

    def argument_for(self, path: str) -> str:
        """The argument, as a DAG writes it, that holds the API's field ``path``."""
        block, _, key = path.partition(".")
        if block.endswith("Params"):
            return f"image_options[{key!r}]" if key else "image_options"
        return path

    def _check(self, *, only_literals: bool = False) -> None:
        if only_literals and not is_literal(self.model):
            return
        model = get_model(self.model)
        if not only_literals or is_literal(self.prompt):
            model.check_prompt(self.prompt)
        options = self.image_options
        if only_literals and isinstance(options, Mapping):
            model.check_params(options, only={k: v for k, v in options.items() if is_literal(v)})
        elif not only_literals or is_literal(options):
            model.check_params(options)

    @cached_property
    def hook(self) -> ApiframeHook:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def execute(self, context: Context) -> list[str]:
        link_pending(context)
        with errors_named_for(self.task_id, self.argument_for):
            self.prepare(context)
            self._check()
        return self.execute_resumable(context)  # type: ignore[no-any-return]

    def prepare(self, context: Context) -> None:
        """What the task settles only when it runs, before its arguments are checked: nothing here."""

    def submit_job(self, context: Context) -> str:
        ti = context["ti"]
        options = dict(self.image_options)
        key = task_instance_key(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=ti.map_index if ti.map_index is not None else -1,
            model=self.model,
            prompt=self.prompt,
            params=options,
        )
        job_id = self.hook.submit_generation(self.model, self.prompt, options, idempotency_key=key)
        self.log.info("apiframe job %s submitted (%s, %s)", job_id, self.model, options)
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
            self._finished[job_id] = self._result(context, terminal_event(self.hook.get_job(job_id)))
        return self._finished[job_id]

    def execute_complete(self, context: Context, event: JobEvent | None = None) -> list[str]:
        return self._result(context, event)

    def _result(self, context: Context, event: JobEvent | None) -> list[str]:
        done = finished(context, event, self.log)
        self._images = list(done["images"])
        # What the job cost, for a downstream task that adds up a run's spend without reading manifests.
        context["ti"].xcom_push(key=CREDIT_COST_XCOM, value=done["credit_cost"])
        if not self.store_to:
            return self._images
        from airflow_provider_apiframe.storage.image_store import ImageToStore, keep_images

        stored = keep_images(
            [
                ImageToStore(
                    url=url,
                    job_id=done["job_id"],
                    number=number,
                    model=self.model,
                    prompt=self.prompt,
                    options=dict(self.image_options),
                    credits=done["credit_cost"],
                )
                for number, url in enumerate(self._images, start=1)
            ],
            self.store_to,
            self.store_conn_id,
            self.log,
        )
        self._stored = [stored[url] for url in self._images]
        return self._stored

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """The model read, the CDN folder (and data set) written, when OpenLineage is installed."""
        api_url = self.hook.settings.base_url
        return generation_lineage(api_url, self.model, [*self._images, *self._stored])
