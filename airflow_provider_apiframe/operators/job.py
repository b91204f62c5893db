"""
The job core every apiframe operator stands on.

One job per task (``ApiframeJobOperator``), and what a batch shares with it (``ApiframeJobTaskMixin``).

An operator face names its arguments and says which ``Operation`` it runs and how its arguments make a
``JobRequest``; everything else lives here once: the hook, checks at parse and run time, the idempotent
submit, deferral, resumption after a restart, the result, ``store_to``, lineage and the extra link.

DAG files import this module on every parse, so it imports neither ``requests``, ``aiohttp`` nor the http
provider: the hook and the trigger are imported where a task runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, ResumableJobMixin

from airflow_provider_apiframe.catalogue.operations import JobRequest, Operation, options_of
from airflow_provider_apiframe.exceptions import ApiframeError, ApiframeJobFailedError
from airflow_provider_apiframe.lineage import generation_lineage
from airflow_provider_apiframe.links import finished, link_pending
from airflow_provider_apiframe.operators.arguments import (
    DEFER_TIMEOUT_GRACE,
    errors_named_for,
    is_literal,
    positive_seconds,
)
from airflow_provider_apiframe.operators.templating import LiteralStringsMixin
from airflow_provider_apiframe.spending.report import CREDIT_COST_XCOM
from airflow_provider_apiframe.utils import metrics
from airflow_provider_apiframe.waiting.events import JobEvent
from airflow_provider_apiframe.wire.idempotency import task_instance_key
from airflow_provider_apiframe.wire.jobs import JobStatus

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
    from airflow_provider_apiframe.storage.image_store import ImageToStore
    from airflow_provider_apiframe.storage.inputs import ResolvedInputs
    from airflow_provider_apiframe.utils.logs import Log


class ApiframeHookMixin:
    """Give a task the hook of its ``apiframe_conn_id``, made on first use (never while a DAG is parsed)."""

    apiframe_conn_id: str

    @cached_property
    def hook(self) -> ApiframeHook:
        """Return the hook of the task's connection."""
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        return ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)

    def enter_credits(self, context: Context, what: str, jobs: Mapping[str, int | None]) -> None:
        """
        Enter jobs (by entry, at the most each can cost) under the connection's credit limit, if it has one.

        All or none: past the limit it raises ``ApiframeSpendLimitError`` and nothing is entered.
        """
        if self.hook.settings.credit_limit is None:
            return
        from airflow_provider_apiframe.spending.ledger import Spender
        from airflow_provider_apiframe.spending.limits import enter_jobs

        enter_jobs(self.hook.settings, Spender.of(context), what, jobs)

    def settle_credits(self, context: Context, costs: Mapping[str, int | None]) -> None:
        """Tell the connection's credit limit (if any) what jobs cost, by entry; None for a failed job."""
        if self.hook.settings.credit_limit is None:
            return
        from airflow_provider_apiframe.spending.ledger import Spender
        from airflow_provider_apiframe.spending.limits import settle_jobs

        settle_jobs(self.hook.settings, Spender.of(context), costs)


class ApiframeJobTaskMixin(LiteralStringsMixin, ApiframeHookMixin):
    """
    Hold what a task that submits jobs shares, whether one job or a batch of them.

    It knows its ``operation``, makes each job's idempotency key from the task instance and the request,
    copies outputs to ``store_to`` and reports lineage from what the task made and stored.
    """

    operation: Operation
    model: str
    store_to: str | None
    store_conn_id: str | None

    def _outputs_init(self, store_to: str | None, store_conn_id: str | None, max_credits: int | None) -> None:
        self.store_to = store_to
        self.store_conn_id = store_conn_id
        if max_credits is not None and (
            isinstance(max_credits, bool) or not isinstance(max_credits, int) or max_credits < 0
        ):
            raise ValueError(f"max_credits must be an integer >= 0 or None, got {max_credits!r}")
        self.max_credits = max_credits
        # What the task produced, stored and spent, for lineage; the try that ends the task fills them.
        self._images: list[str] = []
        self._stored: list[str] = []
        self._credits: int | None = None

    def task_key(self, context: Context, request: JobRequest, row: str | int | None = None) -> str:
        """Return the idempotency key of one job of this task instance (``row`` names a batch's row)."""
        ti = context["ti"]
        return task_instance_key(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=ti.map_index if ti.map_index is not None else -1,
            model=request.model,
            prompt=request.prompt,
            params=options_of(request),
            row=row,
        )

    def price_jobs(self, requests: Sequence[JobRequest]) -> list[int | None]:
        """Return the most each job can cost, read with its own options; None where no price is known."""
        try:
            return self.hook.job_prices(self.operation, requests)
        except ApiframeError as error:
            self.log.warning("The price list cannot be read: %s", error)  # type: ignore[attr-defined]
            return [None] * len(requests)

    def check_spend(self, requests: Sequence[JobRequest], prices: Sequence[int | None] | None = None) -> None:
        """
        Refuse, before anything is sent, jobs that could cost more than ``max_credits`` together.

        Each job is priced with its own options (``prices``, else ``price_jobs``); a model whose price is
        not known cannot be held to a limit, so it is refused too.
        """
        if self.max_credits is None or not requests:
            return
        from airflow_provider_apiframe.spending.limits import check_max_credits

        prices = self.price_jobs(requests) if prices is None else prices
        check_max_credits(self.max_credits, str(requests[0].model), prices)

    def report_spend(self, context: Context, credits: int) -> None:
        """Push what the task spent to XCom and say it in the log's last line."""
        self._credits = credits
        metrics.credits_spent(self.model, credits)
        context["ti"].xcom_push(key=CREDIT_COST_XCOM, value=credits)
        self.log.info("apiframe: this task spent %d credits", credits)  # type: ignore[attr-defined]

    def keep(self, log: Log, images: Sequence[ImageToStore], destination: str) -> dict[str, str]:
        """Copy the task's outputs into the data set at ``destination``; return each URL's stored path."""
        from airflow_provider_apiframe.storage.image_store import keep_images

        stored = keep_images(images, destination, self.store_conn_id, log)
        self._stored = list(stored.values())
        return stored

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """Report the model read and the CDN folders (and data set) written, when OpenLineage is installed."""
        api_url = self.hook.settings.base_url
        return generation_lineage(api_url, self.model, [*self._images, *self._stored], self._credits)


class ApiframeJobOperator(ApiframeJobTaskMixin, ResumableJobMixin, BaseOperator):
    """
    Run one job of an apiframe operation and return its output URLs: the base of every job operator face.

    A face sets ``operation`` and turns its arguments into a ``JobRequest`` (``job_request``); its
    ``__init__`` calls ``check_literals()`` last, so a typo in a literal argument fails the DAG's import.
    The task submits under an idempotency key made from the task instance and the request, so a retried
    try gets back the job it already paid for; it pushes the job id to XCom under ``job_id``, then (by
    default) defers to ``ApiframeJobTrigger``. On Airflow 3.3+ the job id is also kept in the task state
    store (``ResumableJobMixin``): a retry reconnects to a running job, or takes a finished one's outputs,
    without sending a submit at all, and only a FAILED or CANCELLED job is replaced.

    :param model: The model. Templated in the faces.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param deferrable: Wait on the triggerer (default) rather than in the worker.
    :param poll_interval: Longest wait between two status polls, in seconds.
    :param timeout: Seconds (or a timedelta) the job may take from submit to end before the task fails.
    :param store_to: A data set folder on any object storage to copy the outputs to; the task then
        returns the stored paths.
    :param store_conn_id: The Airflow connection with the storage's credentials, if it needs one.
    :param max_credits: The most the task may spend: a job whose model's price passes it is refused
        before anything is sent (``ApiframeSpendLimitError``). None (default): no limit.
    """

    # Renaming this breaks the reconnection of tries already under way: their id is stored under it.
    external_id_key = "apiframe_job_id"

    def __init__(
        self,
        *,
        model: str,
        apiframe_conn_id: str = "apiframe_default",
        deferrable: bool = True,
        poll_interval: float = 5.0,
        timeout: float | timedelta = 600.0,
        store_to: str | None = None,
        store_conn_id: str | None = None,
        max_credits: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._outputs_init(store_to, store_conn_id, max_credits)
        self.model = model
        self.apiframe_conn_id = apiframe_conn_id
        self.deferrable = deferrable
        self.poll_interval = positive_seconds(self.task_id, "poll_interval", poll_interval)
        self.timeout = positive_seconds(self.task_id, "timeout", timeout)
        self._finished: dict[str, list[str]] = {}
        # The inputs as checked when the task runs: files stand in the block as placeholders.
        self._inputs: ResolvedInputs | None = None

    def job_request(self) -> JobRequest:
        """Return what the job is asked for, from the task's (rendered) arguments."""
        raise NotImplementedError(f"{type(self).__name__} must say what its job is asked for")

    def argument_for(self, path: str) -> str:
        """Name the argument, as a DAG writes it, that holds the API's field ``path``."""
        return self.operation.argument_for(path)

    def check_literals(self) -> None:
        """Check the arguments known at parse time; templated ones wait until the task renders them."""
        with errors_named_for(self.task_id, self.argument_for):
            self._check(only_literals=True)

    def _check(self, *, only_literals: bool = False) -> None:
        request = self.job_request()
        if only_literals and not is_literal(request.model):
            return
        model = self.operation.model(request.model)
        if not only_literals or is_literal(request.prompt):
            model.check_prompt(request.prompt)
        options = request.options
        if isinstance(options, Mapping) and model.inputs:
            from airflow_provider_apiframe.storage.inputs import resolve_inputs, unwrap_outputs

            if only_literals:
                # A file is read when the task runs, on the worker, not where the DAG is parsed.
                options = {
                    k: v
                    for k, v in unwrap_outputs(model, options).items()
                    if not (k in model.inputs and _names_file(v))
                }
            else:
                self._inputs = resolve_inputs(model, options, None)
                options = self._inputs.options
        if only_literals and isinstance(options, Mapping):
            model.check_params(options, only={k: v for k, v in options.items() if is_literal(v)})
        elif not only_literals or is_literal(options):
            model.check_params(options)

    def execute(self, context: Context) -> list[str]:
        """Check the rendered arguments, then submit (or reconnect to this task's job) and wait."""
        link_pending(context)
        with errors_named_for(self.task_id, self.argument_for):
            self.prepare(context)
            self._check()
        return self.execute_resumable(context)  # type: ignore[no-any-return]

    def prepare(self, context: Context) -> None:
        """Settle what is known only when the task runs, before its arguments are checked: nothing here."""

    def submit_job(self, context: Context) -> str:
        """Upload the files among the inputs, submit the job under the task's key; push its id to XCom."""
        request = self.job_request()
        inputs = self._inputs
        if inputs is not None:
            # Keyed by the files' digests, not their upload URLs: every try gets the same key.
            request = JobRequest(request.model, inputs.options, request.prompt)
        key = self.task_key(context, request)
        self.check_spend([request])
        if inputs is not None and inputs.files:
            urls = {
                stand_in: self.hook.upload(file.to_upload(), file.sha256).url
                for stand_in, file in inputs.files.items()
            }
            request = JobRequest(request.model, inputs.with_urls(urls), request.prompt)
        from airflow_provider_apiframe.spending.ledger import Spender

        job_id = self.hook.submit_job(
            self.operation,
            request,
            idempotency_key=key,
            spender=Spender.of(context),
            credit_entry=self.credit_entry(context),
        )
        self.log.info("apiframe job %s submitted (%s, %s)", job_id, request.model, options_of(request))
        context["ti"].xcom_push(key="job_id", value=job_id)
        return job_id

    def credit_entry(self, context: Context) -> str:
        """
        Name the job's entry in the credit ledger: the task instance's, one job at a time.

        Not the request: a later try may not know it as the first did (a decorated task's prompt comes
        from its function, run before the task defers).
        """
        return self.task_key(context, JobRequest(self.operation.path, {}))

    def _settle_job(self, context: Context, credits: int | None) -> None:
        # Only a task instance has a ledger entry (and only under a credit limit: settle_credits checks).
        if "ti" in context:
            self.settle_credits(context, {self.credit_entry(context): credits})

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """Read the job's status from the API."""
        return self.hook.get_job(str(external_id)).status.value

    def is_job_active(self, status: str) -> bool:
        """Say whether a job in ``status`` may still end with outputs."""
        return not JobStatus(status).is_terminal

    def is_job_succeeded(self, status: str) -> bool:
        """Say whether a job in ``status`` has completed."""
        return JobStatus(status) is JobStatus.COMPLETED

    # The mixin returns this method's value as the task's result when it reconnects to a running job,
    # so the blocking path returns the output URLs rather than None.
    def poll_until_complete(self, external_id: Any, context: Context) -> list[str]:  # type: ignore[override]
        """Defer to the trigger (default), or wait here; return the output URLs when waiting here."""
        job_id = str(external_id)
        # An action's job carries its parent's model, not the action's name: it is then waited for by id.
        model = self.job_request().model if self.operation.discriminator == "model" else None
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
                    model=model,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout + DEFER_TIMEOUT_GRACE),
            )
        event = self.hook.wait_for_job(
            job_id, poll_interval=self.poll_interval, deadline=deadline, submitted_at=started, model=model
        )
        self._finished[job_id] = self.execute_complete(context, event)
        return self._finished[job_id]

    def get_job_result(self, external_id: Any, context: Context) -> list[str]:
        """Return the outputs of a job an earlier try left finished."""
        job_id = str(external_id)
        if job_id not in self._finished:
            from airflow_provider_apiframe.waiting.watch import terminal_event

            self._finished[job_id] = self._result(context, terminal_event(self.hook.get_job(job_id)))
        return self._finished[job_id]

    def execute_complete(self, context: Context, event: JobEvent | None = None) -> list[str]:
        """Turn the trigger's end event into the task's result, or its typed error."""
        return self._result(context, event)

    def _result(self, context: Context, event: JobEvent | None) -> list[str]:
        model = str(self.job_request().model)
        try:
            done = finished(context, event, self.log)
        except ApiframeJobFailedError:
            metrics.jobs("failed", model)
            self._settle_job(context, None)  # a failed job is refunded
            raise
        metrics.jobs("completed", model)
        self._images = list(done["images"])
        self._settle_job(context, done["credit_cost"])
        if not self.store_to:
            self.report_spend(context, done["credit_cost"] or 0)
            return self._images
        from airflow_provider_apiframe.storage.image_store import ImageToStore

        request = self.job_request()
        stored = self.keep(
            self.log,
            [
                ImageToStore(
                    url=url,
                    job_id=done["job_id"],
                    number=number,
                    model=request.model,
                    prompt=request.prompt or "",
                    options=_plain(options_of(request)),
                    credits=done["credit_cost"],
                )
                for number, url in enumerate(self._images, start=1)
            ],
            self.store_to,
        )
        self.report_spend(context, done["credit_cost"] or 0)
        return [stored[url] for url in self._images]


class ApiframeModelOperator(ApiframeJobOperator):
    """
    Run one job whose arguments are the model, its parameter block and, where it takes one, a prompt.

    The base of most operation faces: a face sets ``operation`` (and its link and colour); inputs such as
    ``image`` or ``video`` are keys of ``options``, as the vendor's spec names them.

    :param model: One of the operation's models. Templated.
    :param options: The model's parameter block, as the vendor's spec defines it, checked against the
        catalogue before anything is spent. Templated.
    :param prompt: The top-level prompt, for the operations whose body has one (video and music
        generation, video edit); None for the others. Templated.
    :param kwargs: Everything else ``ApiframeJobOperator`` takes (connection, deferrable,
        poll_interval, timeout, store_to) and ``BaseOperator``'s arguments.
    """

    template_fields: Sequence[str] = ("model", "prompt", "options", "store_to")

    def __init__(
        self,
        *,
        model: str,
        options: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        self.options = options if options is not None else {}
        self.prompt = prompt
        self.check_literals()

    def job_request(self) -> JobRequest:
        """Ask for one job of ``model`` with ``options`` as its block (and ``prompt`` beside it)."""
        return JobRequest(model=self.model, options=self.options, prompt=self.prompt)


class ApiframeActionOperator(ApiframeJobOperator):
    """
    Run an action on an earlier job of the same team: the base of the Midjourney and Suno action faces.

    The fields a face takes as arguments of their own (``parent_job_id``, ``index``, ...) are the
    operation's ``arguments``; the action's other fields go in ``options``.

    :param action: The action's name. Templated.
    :param options: The action's other fields, as the spec names them. Templated.
    :param kwargs: The operation's own arguments (``parent_job_id``, ``index``, ...), everything else
        ``ApiframeJobOperator`` takes and ``BaseOperator``'s arguments.
    """

    template_fields: Sequence[str] = ("action", "parent_job_id", "index", "options", "store_to")

    def __init__(self, *, action: str, options: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        fields = {name: kwargs.pop(name, None) for name in self.operation.arguments.values()}
        super().__init__(model=action, **kwargs)
        self.action = action
        for name, value in fields.items():
            setattr(self, name, value)
        self.options = options if options is not None else {}
        self.check_literals()

    def job_request(self) -> JobRequest:
        """Ask for the action on the parent job: the face's own fields, then the others from ``options``."""
        fields = {
            field: getattr(self, name)
            for field, name in self.operation.arguments.items()
            if getattr(self, name) is not None
        }
        options = {**fields, **self.options} if isinstance(self.options, Mapping) else self.options
        return JobRequest(model=self.action, options=options)


def _names_file(value: Any) -> bool:
    """Whether an input value is, or lists, a file to upload."""
    from airflow_provider_apiframe.storage.inputs import is_file

    if isinstance(value, list | tuple):
        return any(is_file(item) for item in value)
    return is_file(value)


def _plain(value: Any) -> Any:
    """Return ``value`` with paths as their text, for the manifest's JSON."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, os.PathLike) else value
