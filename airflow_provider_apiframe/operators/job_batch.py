"""
The batch core: many jobs of one operation in one task, up to 10,000 rows, each paid once.

A face names its arguments and says which rows it reads (``batch_input``); submitting on the triggerer,
waiting through the status hub, resubmitting failed rows, recording jobs across tries, the results, the
credit check, ``store_to`` and lineage live here once.

DAG files import this module on every parse, so it loads neither ``requests``, ``aiohttp`` nor the http
provider: the hook and the triggers are imported where the task runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_apiframe.batch.rows import Row, read_rows, short_digest
from airflow_provider_apiframe.batch.state import BatchState, record_jobs, recorded_jobs, result_row
from airflow_provider_apiframe.catalogue.operations import JobRequest
from airflow_provider_apiframe.exceptions import ApiframeBatchFailedError
from airflow_provider_apiframe.links import link_pending, remember_image
from airflow_provider_apiframe.operators.arguments import (
    DEFER_TIMEOUT_GRACE,
    errors_named_for,
    is_literal,
    positive_seconds,
)
from airflow_provider_apiframe.operators.job import ApiframeJobTaskMixin
from airflow_provider_apiframe.utils import metrics
from airflow_provider_apiframe.waiting.events import (
    BatchSubmitted,
    BatchWaited,
    JobEvent,
    JobFailed,
    is_sent_again,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_apiframe.storage.inputs import InputReader

FAILED_ROWS_NAMED = 10
# What a row without outputs lacks, in the batch's error.
OUTPUT_NOUNS = {"images": "image", "videos": "video", "audio": "audio file", "lora": "LoRA"}


class ApiframeBatchJobOperator(ApiframeJobTaskMixin, BaseOperator):
    """
    Run one job per row of an operation and return one result per row: the base of every batch face.

    A face sets ``operation``, reads its rows and default options in ``batch_input`` and calls
    ``check_literals()`` last in its ``__init__``. See ``ApiframeBatchGenerateOperator`` for what a
    batch does and returns.

    :param model: The model of every row.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param poll_interval: Longest wait between two status polls of one job, in seconds.
    :param timeout: Seconds (or a timedelta) the jobs may take after the last submit before their rows
        end with ``TIMEOUT``.
    :param max_resubmissions: How many times a row whose job failed is submitted again (default 2).
    :param accept_partial: Succeed with the rows that have outputs even if others have none.
    :param store_to: A data set folder on any object storage to copy every row's outputs to.
    :param store_conn_id: The Airflow connection with the storage's credentials, if it needs one.
    :param max_credits: The most the batch may spend: rows whose jobs could cost more are refused whole,
        before anything is sent (``ApiframeSpendLimitError``). None (default): no limit.
    """

    def __init__(
        self,
        *,
        model: str,
        apiframe_conn_id: str = "apiframe_default",
        poll_interval: float = 5.0,
        timeout: float | timedelta = 600.0,
        max_resubmissions: int = 2,
        accept_partial: bool = False,
        store_to: str | None = None,
        store_conn_id: str | None = None,
        max_credits: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._outputs_init(store_to, store_conn_id, max_credits)
        self.model = model
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
        self._reader: InputReader | None = None

    # The argument that holds the rows, as errors name it.
    rows_argument = "rows"
    # Rows a chunk of the submission holds: one XCom value (about 0.3 MB of bodies at 500-character
    # prompts), and at most what a triggerer that dies mid-submission leaves to send again: each chunk's
    # jobs are recorded before the next is sent.
    submit_chunk = 500

    def batch_input(self) -> tuple[Any, Any]:
        """Return the rows as the DAG gave them and the options every row starts from."""
        raise NotImplementedError(f"{type(self).__name__} must say which rows it reads")

    def check_literals(self) -> None:
        """Check a batch known at parse time, so a typo fails the DAG's import; a templated one on run."""
        rows, defaults = self.batch_input()
        if is_literal(self.model) and is_literal(rows) and is_literal(defaults):
            self._rows(read_files=False)

    def _rows(self, *, read_files: bool = True) -> list[Row]:
        rows, defaults = self.batch_input()
        with errors_named_for(self.task_id):
            model = self.operation.model(self.model)
            resolve: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
            if model.inputs:
                from airflow_provider_apiframe.storage.inputs import InputReader, unread_stand_ins

                # Files are read where the task runs, each once however many rows name it.
                if read_files and self._reader is None:
                    self._reader = InputReader(model)
                resolve = (
                    self._reader.resolve if read_files and self._reader else partial(unread_stand_ins, model)
                )
            main_input = model.main_input.name if model.main_input else None
            return read_rows(
                rows, model, defaults, argument=self.rows_argument, main_input=main_input, resolve=resolve
            )

    def _input_urls(self, rows: list[Row]) -> dict[str, str]:
        """Upload the files the rows name (each once, and not while an upload of its bytes lives)."""
        files = self._reader.files if self._reader is not None else {}
        named = {value for row in rows for value in _strings(row.options) if value in files}
        return {
            stand_in: self.hook.upload(files[stand_in].to_upload(), files[stand_in].sha256).url
            for stand_in in named
        }

    def _keys(self, context: Context, rows: list[Row]) -> list[str]:
        return [
            self.task_key(context, JobRequest(self.model, row.options, row.prompt), row=row.identity)
            for row in rows
        ]

    def execute(self, context: Context) -> list[dict[str, Any]] | None:
        """Check every row, then submit the rows that have no job yet (on the triggerer) and wait."""
        link_pending(context)
        rows = self._rows()
        keys = self._keys(context, rows)
        recorded = recorded_jobs(context, len(rows))
        jobs = {
            str(row.index): recorded[short_digest(keys[row.index])]
            for row in rows
            if short_digest(keys[row.index]) in recorded
        }
        to_submit = [row for row in rows if str(row.index) not in jobs]
        if jobs:
            self.log.info("%d of %d rows already have a job from an earlier try", len(jobs), len(rows))
        if to_submit:
            self._check_credits(context, keys, to_submit)
        return self._submit(context, rows, keys, to_submit, BatchState(jobs=jobs))

    def _check_credits(self, context: Context, keys: list[str], to_submit: list[Row]) -> None:
        """Check before the first submit: max_credits, the team's balance, the connection's credit limit."""
        requests = [JobRequest(self.model, row.options, row.prompt) for row in to_submit]
        prices = self.price_jobs(requests)
        self.check_spend(requests, prices)
        if None in prices:
            self.log.warning(
                "%s has no known price: the balance is not checked before submitting", self.model
            )
        else:
            cost = sum(price or 0 for price in prices)
            balance = self.hook.ensure_credits(self.model, len(to_submit), self.operation, cost=cost)
            self.log.info(
                "Submitting %d rows of %s (at most %d credits); the team has %d credits",
                len(to_submit),
                self.model,
                cost,
                balance,
            )
        self.enter_credits(
            context,
            self.model,
            {keys[row.index]: price for row, price in zip(to_submit, prices, strict=True)},
        )

    def _submit(
        self, context: Context, rows: list[Row], keys: list[str], to_submit: list[Row], state: BatchState
    ) -> list[dict[str, Any]] | None:
        if not to_submit:
            return self._wait(context, rows, state)
        from airflow_provider_apiframe.batch.plan import SubmitPlan
        from airflow_provider_apiframe.batch.submission import RowSubmit
        from airflow_provider_apiframe.storage.inputs import with_urls
        from airflow_provider_apiframe.triggers.batch import ApiframeBatchSubmitTrigger

        urls = self._input_urls(to_submit)
        submits = [
            RowSubmit(
                row=row.index,
                key=keys[row.index],
                body=self.operation.request_body(
                    JobRequest(self.model, with_urls(row.options, urls), row.prompt)
                ),
                failure=state.failures.get(row.index),
            ).stored()
            for row in to_submit
        ]
        self.defer(
            trigger=ApiframeBatchSubmitTrigger(
                apiframe_conn_id=self.apiframe_conn_id,
                submits=[],
                jobs=state.jobs,
                settled=state.settled,
                max_jobs_per_row=self.max_resubmissions + 1,
                # Fixed here, not where the trigger starts: a replacement triggerer's run still reads the
                # pages back to the batch's first jobs.
                started_at=state.started_at if state.started_at is not None else time.time(),
                path=self.operation.path,
                model=self.operation.model(self.model).id,
                done=state.done,
                plan=SubmitPlan.push(context["ti"], submits, self.submit_chunk).stored(),
            ),
            method_name="after_submit",
            # No deadline from the batch's own pace: batches sharing the key's budget (Redis) take as long
            # as it takes to serve them all, and a submission whose API stays down for retry_timeout ends
            # by itself (the rows not sent end in errors a retry sends again, free by their keys).
        )
        return None

    def after_submit(self, context: Context, event: BatchSubmitted) -> list[dict[str, Any]] | None:
        """Record the rows' jobs (Airflow 3.3+); submit again the rows whose earlier job failed; or wait."""
        rows = self._rows()
        keys = self._keys(context, rows)
        record_jobs(
            context,
            {int(index): job_id for index, job_id in event["jobs"].items()},
            [short_digest(key) for key in keys],
        )
        ended = event.get("ended", {})
        settled, again, failures = _sort_outcomes(rows, event["settled"], ended)
        jobs = {index: job_id for index, job_id in event["jobs"].items() if index not in ended}
        state = BatchState(
            jobs=jobs,
            settled=settled,
            started_at=event["started_at"],
            failures=failures,
            done=event.get("done", []),
        )
        remaining = [row for row in rows if str(row.index) not in jobs and str(row.index) not in settled]
        if remaining:
            self.log.info(
                "%d rows have a job; submitting %d more%s",
                len(jobs),
                len(remaining),
                f" ({len(again)} whose jobs failed)" if again else "",
            )
            return self._submit(context, rows, keys, remaining, state)
        if jobs:
            self.log.info("Every row is submitted; waiting for the %d jobs still running", len(jobs))
        return self._wait(context, rows, state)

    def _wait(self, context: Context, rows: list[Row], state: BatchState) -> list[dict[str, Any]] | None:
        if not state.jobs:
            return self._finish(context, rows, state.settled)
        from airflow_provider_apiframe.triggers.batch import ApiframeBatchWaitTrigger

        self.defer(
            trigger=ApiframeBatchWaitTrigger(
                apiframe_conn_id=self.apiframe_conn_id,
                jobs=state.jobs,
                settled=state.settled,
                poll_interval=self.poll_interval,
                deadline=time.time() + self.timeout,
                started_at=state.started_at if state.started_at is not None else time.time(),
                model=self.operation.model(self.model).id,
            ),
            method_name="after_wait",
            timeout=timedelta(seconds=self.timeout + DEFER_TIMEOUT_GRACE),
        )
        return None

    def after_wait(self, context: Context, event: BatchWaited) -> list[dict[str, Any]] | None:
        """Submit again the rows whose job failed; finish the batch once none is left."""
        rows = self._rows()
        settled, again, failures = _sort_outcomes(rows, event["settled"], event["results"])
        if again:
            self.log.info("%d rows' jobs failed; submitting them again", len(again))
            state = BatchState(settled=settled, started_at=event["started_at"], failures=failures)
            return self._submit(context, rows, self._keys(context, rows), again, state)
        return self._finish(context, rows, settled)

    def _finish(
        self, context: Context, rows: list[Row], settled: Mapping[str, JobEvent]
    ) -> list[dict[str, Any]]:
        kind = self.operation.result
        results = [result_row(row, settled.get(str(row.index)), kind) for row in rows]
        self._images = [image for result in results for image in result[kind]]
        remember_image(context, self._images[:1])
        if self.store_to:
            self._keep_rows(rows, results, self.store_to)
        failed = [row for row, result in zip(rows, results, strict=True) if not result[kind]]
        credits = sum(result["credit_cost"] or 0 for result in results)
        keys = self._keys(context, rows)
        # A failed or cancelled job is refunded; one that timed out may still be charged: its entry stays.
        ended = ("COMPLETED", "FAILED", "CANCELLED")
        self.settle_credits(
            context,
            {
                keys[row.index]: result["credit_cost"]
                for row, result in zip(rows, results, strict=True)
                if result["status"] in ended
            },
        )
        self.log.info(
            "Batch of %d rows ended: %d with outputs, %d without",
            len(rows),
            len(rows) - len(failed),
            len(failed),
        )
        metrics.jobs("completed", self.model, len(rows) - len(failed))
        metrics.jobs("failed", self.model, len(failed))
        self.report_spend(context, credits)
        if failed and not self.accept_partial:
            named = "; ".join(
                f"{row.label}: {results[row.index]['error']}" for row in failed[:FAILED_ROWS_NAMED]
            )
            more = f"; and {len(failed) - FAILED_ROWS_NAMED} more" if len(failed) > FAILED_ROWS_NAMED else ""
            raise ApiframeBatchFailedError(
                f"{len(failed)} of {len(rows)} rows have no {OUTPUT_NOUNS[kind]} (set accept_partial=True "
                f"to keep the others anyway): {named}{more}",
                failed_rows=[row.index for row in failed],
                total_rows=len(rows),
            )
        return results

    def _keep_rows(self, rows: list[Row], results: list[dict[str, Any]], destination: str) -> None:
        """Copy every row's outputs into the data set; each result row gets its stored ``paths``."""
        from airflow_provider_apiframe.storage.image_store import ImageToStore

        stored = self.keep(
            self.log,
            [
                ImageToStore(
                    url=url,
                    job_id=result["job_id"],
                    number=number,
                    model=self.model,
                    prompt=row.prompt or "",
                    options=row.options,
                    credits=result["credit_cost"],
                    row_id=row.id,
                )
                for row, result in zip(rows, results, strict=True)
                for number, url in enumerate(result[self.operation.result], start=1)
            ],
            destination,
        )
        for result in results:
            result["paths"] = [stored[url] for url in result[self.operation.result]]


def _sort_outcomes(
    rows: list[Row], settled: Mapping[str, JobEvent], outcomes: Mapping[str, JobEvent]
) -> tuple[dict[str, JobEvent], list[Row], dict[int, JobFailed]]:
    """
    Sort ended jobs' outcomes into rows settled and rows to send again (their job failed or was cancelled).

    The settled include those settled before; a row to send again comes with its failed job's end event.
    Each is sent again under its first key: the API hands back the failed job, whose successor key is
    then used, so that a row never pays twice for one attempt.
    """
    settled = dict(settled)
    again: list[Row] = []
    failures: dict[int, JobFailed] = {}
    for index, outcome in outcomes.items():
        if is_sent_again(outcome):
            again.append(rows[int(index)])
            failures[int(index)] = outcome
        else:
            settled[index] = outcome
    return settled, again, failures


def _strings(value: Any) -> Iterator[str]:
    """Every string in a block, in its values and lists."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
