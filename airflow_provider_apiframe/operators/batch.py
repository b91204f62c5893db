"""
Operators that generate a whole data set of images in one task: up to 10,000 rows, paid once per row.

DAG files import this module on every parse, so, as ``generate.py``, it loads neither ``requests``,
``aiohttp`` nor the http provider: the hook and the triggers are imported where the task runs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_apiframe.batch.rows import Row, read_rows, short_digest
from airflow_provider_apiframe.catalogue.image_models import get_model
from airflow_provider_apiframe.exceptions import ApiframeBatchFailedError
from airflow_provider_apiframe.lineage import generation_lineage
from airflow_provider_apiframe.links import ApiframeImageLink, link_pending, remember_image
from airflow_provider_apiframe.operators.arguments import (
    DEFER_TIMEOUT_GRACE,
    errors_named_for,
    imagen_options,
    is_literal,
    positive_seconds,
)
from airflow_provider_apiframe.waiting.events import BatchSubmitted, BatchWaited, JobEvent, JobFailed
from airflow_provider_apiframe.waiting.watch import error_event
from airflow_provider_apiframe.wire.idempotency import task_instance_key

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

# The task state store key (Airflow 3.3+) under which a batch keeps each row's job; renaming it makes
# retries of batches under way submit again (for free, under the same keys, but a request per row).
STATE_KEY = "apiframe_batch_jobs"
FAILED_ROWS_NAMED = 10


class ApiframeBatchGenerateOperator(BaseOperator):
    """
    Generate one image job per row of ``prompts`` with any apiframe image model; return one result per row.

    ``prompts`` is a list of prompt strings, or of dicts ``{"prompt": ..., "id": ..., <image options>}``
    whose options override ``image_options`` for that row and whose ``id`` (string or integer, unique)
    comes back in the row's result. Every row is checked before anything is spent, and the batch's cost
    against the team's balance (``GET /v2/me``): a batch that cannot be paid fails at once.

    Submitting and waiting both run on the triggerer, within the connection's request budget, so the
    task holds a worker slot only for a moment at its start and end. Each row is submitted under its own
    idempotency key (task instance and row), so a restarted triggerer or a retried task gets each row's
    job back instead of paying again; on Airflow 3.3+ the rows' job ids are also kept in the task state
    store, so that a retry sends no submit at all for rows that have a job. A row whose job ends FAILED
    or CANCELLED is resubmitted under its successor key, at most ``max_resubmissions`` times.

    The return value (XCom) lists one dict per row, in the order of ``prompts``: ``prompt``, ``id``,
    ``job_id``, ``status`` (``COMPLETED``, ``FAILED``, ``CANCELLED``, ``TIMEOUT`` or ``ERROR``),
    ``images``, ``error`` and ``credit_cost``. By default the task fails once the whole batch has ended
    if any row has no image, naming them; with ``accept_partial=True`` it succeeds and returns them all.

    :param prompts: The rows, up to 10,000. Templated (or an upstream task's output).
    :param model: The model of every row. Templated.
    :param image_options: The model's image options for every row (a row's own override them). Templated.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param poll_interval: Longest wait between two status polls of one job, in seconds.
    :param timeout: Seconds (or a timedelta) the jobs may take after the last submit before their rows
        end with ``TIMEOUT``.
    :param max_resubmissions: How many times a row whose job failed is submitted again (default 2).
    :param accept_partial: Succeed with the rows that have images even if others have none.
    :param store_to: A data set folder on any object storage (``file://``, ``s3://``, ...): every row's
        images are copied there with their manifest (prompt, options and the row's ``id`` beside each
        file), as ``ApiframeStoreImagesOperator`` does, and each result row gains ``paths``. Templated.
    :param store_conn_id: The Airflow connection with the storage's credentials, if it needs one.
    """

    template_fields: Sequence[str] = ("prompts", "model", "image_options", "store_to")
    ui_color = "#e9d8fd"
    operator_extra_links = (ApiframeImageLink(),)

    def __init__(
        self,
        *,
        prompts: Any,
        model: str,
        image_options: Mapping[str, Any] | None = None,
        apiframe_conn_id: str = "apiframe_default",
        poll_interval: float = 5.0,
        timeout: float | timedelta = 600.0,
        max_resubmissions: int = 2,
        accept_partial: bool = False,
        store_to: str | None = None,
        store_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.store_to = store_to
        self.store_conn_id = store_conn_id
        self.prompts = prompts
        self.model = model
        self.image_options = dict(image_options or {})
        self.apiframe_conn_id = apiframe_conn_id
        self.poll_interval = positive_seconds(self.task_id, "poll_interval", poll_interval)
        self.timeout = positive_seconds(self.task_id, "timeout", timeout)
        if (
            isinstance(max_resubmissions, bool)
            or not isinstance(max_resubmissions, int)
            or max_resubmissions < 0
        ):
            raise ValueError(
                f"{self.task_id}: max_resubmissions must be an integer >= 0, got {max_resubmissions!r}"
            )
        self.max_resubmissions = max_resubmissions
        self.accept_partial = accept_partial
        # What the batch produced and stored, for lineage.
        self._images: list[str] = []
        self._stored: list[str] = []
        # A literal batch is checked now, so a typo fails the DAG import; a templated one once rendered.
        if is_literal(self.model) and is_literal(self.prompts) and is_literal(self.image_options):
            self._rows()

    @cached_property
    def hook(self) -> ApiframeHook:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """The model read, the CDN folders (and data set) written, when OpenLineage is installed."""
        api_url = self.hook.settings.base_url
        return generation_lineage(api_url, self.model, [*self._images, *self._stored])

    def _keep(self, rows: list[Row], results: list[dict[str, Any]], destination: str) -> None:
        """Copy every row's images into the data set; each result row gets its stored ``paths``."""
        from airflow_provider_apiframe.storage.image_store import ImageToStore, keep_images

        stored = keep_images(
            [
                ImageToStore(
                    url=url,
                    job_id=result["job_id"],
                    number=number,
                    model=self.model,
                    prompt=row.prompt,
                    options=row.options,
                    credits=result["credit_cost"],
                    row_id=row.id,
                )
                for row, result in zip(rows, results, strict=True)
                for number, url in enumerate(result["images"], start=1)
            ],
            destination,
            self.store_conn_id,
            self.log,
        )
        for result in results:
            result["paths"] = [stored[url] for url in result["images"]]
        self._stored = list(stored.values())

    def _rows(self) -> list[Row]:
        with errors_named_for(self.task_id):
            return read_rows(self.prompts, get_model(self.model), self.image_options)

    def _keys(self, context: Context, rows: list[Row]) -> list[str]:
        ti = context["ti"]
        model = get_model(self.model)
        return [
            task_instance_key(
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=ti.map_index if ti.map_index is not None else -1,
                model=model.id,
                prompt=row.prompt,
                params=row.options,
                row=row.identity,
            )
            for row in rows
        ]

    def execute(self, context: Context) -> list[dict[str, Any]] | None:
        link_pending(context)
        rows = self._rows()
        keys = self._keys(context, rows)
        recorded = _recorded_jobs(context)
        jobs = {
            str(row.index): recorded[short_digest(keys[row.index])]
            for row in rows
            if short_digest(keys[row.index]) in recorded
        }
        to_submit = [row for row in rows if str(row.index) not in jobs]
        if jobs:
            self.log.info("%d of %d rows already have a job from an earlier try", len(jobs), len(rows))
        if to_submit:
            balance = self.hook.ensure_credits(self.model, len(to_submit))
            self.log.info(
                "Submitting %d rows of %s; the team has %d credits", len(to_submit), self.model, balance
            )
        return self._submit(context, rows, keys, to_submit, jobs, {}, None)

    def _submit(
        self,
        context: Context,
        rows: list[Row],
        keys: list[str],
        to_submit: list[Row],
        jobs: dict[str, str],
        settled: dict[str, JobEvent],
        started_at: float | None,
        failures: Mapping[int, JobFailed] | None = None,
    ) -> list[dict[str, Any]] | None:
        if not to_submit:
            return self._wait(context, rows, jobs, settled, started_at or time.time())
        from airflow_provider_apiframe.triggers.batch import ApiframeBatchSubmitTrigger

        model = get_model(self.model)
        limit = self.hook.settings.rate_limit_per_minute or 6000
        self.defer(
            trigger=ApiframeBatchSubmitTrigger(
                apiframe_conn_id=self.apiframe_conn_id,
                submits=[
                    [row.index, keys[row.index], model.request_body(row.prompt, row.options)]
                    + ([failures[row.index]] if failures and row.index in failures else [])
                    for row in to_submit
                ],
                jobs=jobs,
                settled=settled,
                max_jobs_per_row=self.max_resubmissions + 1,
                started_at=started_at,
            ),
            method_name="after_submit",
            # Room for every submit at the budget's pace twice over, and each riding out a storm.
            timeout=timedelta(
                seconds=2 * 60.0 * len(to_submit) * (self.max_resubmissions + 1) / limit
                + self.hook.settings.retry_timeout
                + DEFER_TIMEOUT_GRACE
            ),
        )
        return None

    def after_submit(self, context: Context, event: BatchSubmitted) -> list[dict[str, Any]] | None:
        rows = self._rows()
        keys = self._keys(context, rows)
        jobs = event["jobs"]
        _record_jobs(context, {short_digest(keys[int(index)]): job_id for index, job_id in jobs.items()})
        self.log.info("%d rows submitted; waiting for their jobs", len(jobs))
        return self._wait(context, rows, jobs, event["settled"], event["started_at"])

    def _wait(
        self,
        context: Context,
        rows: list[Row],
        jobs: dict[str, str],
        settled: dict[str, JobEvent],
        started_at: float,
    ) -> list[dict[str, Any]] | None:
        if not jobs:
            return self._finish(context, rows, settled)
        from airflow_provider_apiframe.triggers.batch import ApiframeBatchWaitTrigger

        self.defer(
            trigger=ApiframeBatchWaitTrigger(
                apiframe_conn_id=self.apiframe_conn_id,
                jobs=jobs,
                settled=settled,
                poll_interval=self.poll_interval,
                deadline=time.time() + self.timeout,
                started_at=started_at,
                model=get_model(self.model).id,
            ),
            method_name="after_wait",
            timeout=timedelta(seconds=self.timeout + DEFER_TIMEOUT_GRACE),
        )
        return None

    def after_wait(self, context: Context, event: BatchWaited) -> list[dict[str, Any]] | None:
        rows = self._rows()
        settled = dict(event["settled"])
        again: list[Row] = []
        failures: dict[int, JobFailed] = {}
        for index, outcome in event["results"].items():
            if outcome["status"] == "error" and outcome["reason"] in ("failed", "cancelled"):
                again.append(rows[int(index)])
                failures[int(index)] = outcome
            else:
                settled[index] = outcome
        if again:
            # Each is submitted under its first key again: the API hands back the failed job, whose
            # successor key is then used, so a row never pays twice for one attempt.
            self.log.info("%d rows' jobs failed; submitting them again", len(again))
            return self._submit(
                context, rows, self._keys(context, rows), again, {}, settled, event["started_at"], failures
            )
        return self._finish(context, rows, settled)

    def _finish(
        self, context: Context, rows: list[Row], settled: Mapping[str, JobEvent]
    ) -> list[dict[str, Any]]:
        results = [_result_row(row, settled.get(str(row.index))) for row in rows]
        self._images = [image for result in results for image in result["images"]]
        remember_image(context, self._images[:1])
        if self.store_to:
            self._keep(rows, results, self.store_to)
        failed = [row for row, result in zip(rows, results, strict=True) if not result["images"]]
        credits = sum(result["credit_cost"] or 0 for result in results)
        self.log.info(
            "Batch of %d rows ended: %d with images, %d without, %d credits",
            len(rows),
            len(rows) - len(failed),
            len(failed),
            credits,
        )
        if failed and not self.accept_partial:
            named = "; ".join(
                f"{row.label}: {results[row.index]['error']}" for row in failed[:FAILED_ROWS_NAMED]
            )
            more = f"; and {len(failed) - FAILED_ROWS_NAMED} more" if len(failed) > FAILED_ROWS_NAMED else ""
            raise ApiframeBatchFailedError(
                f"{len(failed)} of {len(rows)} rows have no image (set accept_partial=True to keep the "
                f"others anyway): {named}{more}",
                failed_rows=[row.index for row in failed],
                total_rows=len(rows),
            )
        return results


class ImagenBatchGenerateOperator(ApiframeBatchGenerateOperator):
    """
    Generate a data set of images with an Imagen model: ``ApiframeBatchGenerateOperator`` with Imagen's
    options as arguments. A row's own options override them.

    :param prompts: The rows (see ``ApiframeBatchGenerateOperator``). Templated.
    :param aspect_ratio: ``1:1`` (default), ``9:16``, ``16:9``, ``3:4`` or ``4:3``.
    :param output_format: ``jpg`` (default) or ``png``.
    :param image_size: ``1K`` (default) or ``2K``.
    :param model: ``imagen-4`` (default), ``imagen-4-ultra``, ``imagen-4-fast``, ``imagen-3`` or
        ``imagen-3-fast``.
    """

    def __init__(
        self,
        *,
        prompts: Any,
        aspect_ratio: str = "1:1",
        output_format: str = "jpg",
        image_size: str = "1K",
        model: str = "imagen-4",
        **kwargs: Any,
    ) -> None:
        options = imagen_options(aspect_ratio, output_format, image_size)
        super().__init__(prompts=prompts, model=model, image_options=options, **kwargs)


def _result_row(row: Row, outcome: JobEvent | None) -> dict[str, Any]:
    outcome = outcome or error_event("", "error", "No outcome")
    if outcome["status"] == "success":
        status, images, error, cost = "COMPLETED", list(outcome["images"]), None, outcome["credit_cost"]
    else:
        status, images, error, cost = outcome["reason"].upper(), [], outcome["message"], None
    return {
        "prompt": row.prompt,
        "id": row.id,
        "job_id": outcome["job_id"] or None,
        "status": status,
        "images": images,
        "error": error,
        "credit_cost": cost,
    }


def _recorded_jobs(context: Context) -> dict[str, str]:
    store = context.get("task_state_store")  # type: ignore[attr-defined]
    recorded = store.get(STATE_KEY) if store is not None else None
    if not isinstance(recorded, dict):
        return {}
    return {digest: job_id for digest, job_id in recorded.items() if isinstance(job_id, str)}


def _record_jobs(context: Context, jobs: Mapping[str, str]) -> None:
    store = context.get("task_state_store")  # type: ignore[attr-defined]
    if store is not None and jobs:
        store.set(STATE_KEY, {**_recorded_jobs(context), **jobs})
