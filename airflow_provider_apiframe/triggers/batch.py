"""
The two triggers of a batch: one submits its rows, one waits for their jobs; neither holds a worker slot.

A batch of ten thousand rows takes twenty minutes to submit at 500 requests a minute, so submitting runs
on the triggerer too, in one trigger for the whole submission: it reads the rows' request bodies from the
task's XCom a chunk at a time and records each chunk's jobs there before sending the next
(:mod:`~airflow_provider_apiframe.batch.plan`), every row under its idempotency key. A triggerer that
dies mid-batch is replaced by one that runs the same trigger again from its kwargs, skips the chunks
recorded and sends the rest: at most one chunk again, each row of it getting its job back from the API
for free. Waiting starts with the second chunk: before each chunk the trigger reads how the jobs sent so
far stand (from ``GET /v2/jobs`` pages, a hundred jobs a request), so that a row whose job failed is sent
again while the batch is still submitting, not after its last job has ended. Both triggers carry the rows
already settled (done, or given up) through their kwargs into their event unchanged, so that the
operator has the whole batch in hand at the end, whichever path it took; they hold plain JSON only.

Events carry one small entry per row (job id, image URLs, credits, or the error), never Job bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_apiframe.batch.plan import SubmitPlan
from airflow_provider_apiframe.batch.progress import Progress, RowLog
from airflow_provider_apiframe.batch.submission import RowSubmit, Submission
from airflow_provider_apiframe.catalogue.operations import IMAGE_GENERATION
from airflow_provider_apiframe.exceptions import (
    ApiframeError,
)
from airflow_provider_apiframe.triggers.apiframe import watch_through
from airflow_provider_apiframe.waiting.events import (
    BatchWaited,
    JobEvent,
)
from airflow_provider_apiframe.waiting.status_hub import shared_hub
from airflow_provider_apiframe.waiting.watch import JobWatch, error_event

if TYPE_CHECKING:
    pass


class ApiframeBatchSubmitTrigger(BaseTrigger):
    """
    Submit each row under its idempotency key, within the connection's request budget; yield the job ids.

    A key whose job ended FAILED or CANCELLED is followed by its successor key, as a single task's retry
    does, up to ``max_jobs_per_row`` jobs per row; a row whose chain is that long is given up. A refused
    key or an empty balance stops the batch's submits: the rows not yet sent are settled with that error.

    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param submits: ``[index, key, body]`` for each row to submit, when there is no ``plan``.
    :param jobs: Row index (a string) to job id, for rows that already have a live or finished job (an
        earlier try's or submission's). Their statuses are read once before each chunk is sent; the
        event's ``ended`` holds the end event of each that had ended without its outputs.
    :param settled: Row index to the row's final event, for rows already done or given up.
    :param max_jobs_per_row: Jobs one row may take, its first included.
    :param started_at: Epoch seconds when the batch first submitted (None: now).
    :param path: The operation's endpoint (triggers stored before there were other operations have none:
        they submitted image generations).
    :param model: The batch's model, to read only its jobs' pages (None: every job's).
    :param done: Rows of ``jobs`` whose job was seen completed already: not read again here.
    :param plan: Where the rows' submits wait in the task's XCom, a chunk a value
        (:class:`~airflow_provider_apiframe.batch.plan.SubmitPlan`); each chunk's jobs are recorded
        there before the next is sent. Triggers stored before plans carry their rows in ``submits``.
    """

    def __init__(
        self,
        apiframe_conn_id: str,
        submits: list[list[Any]],
        jobs: dict[str, str],
        settled: dict[str, JobEvent],
        max_jobs_per_row: int,
        started_at: float | None = None,
        path: str = IMAGE_GENERATION.path,
        model: str | None = None,
        done: list[str] | None = None,
        plan: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.apiframe_conn_id = apiframe_conn_id
        self.submits = submits
        self.jobs = jobs
        self.settled = settled
        self.max_jobs_per_row = int(max_jobs_per_row)
        self.started_at = started_at
        self.path = path
        self.model = model
        self.done = list(done or [])
        self.plan = plan

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and plain-JSON kwargs a triggerer rebuilds the trigger from."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "apiframe_conn_id": self.apiframe_conn_id,
                "submits": self.submits,
                "jobs": self.jobs,
                "settled": self.settled,
                "max_jobs_per_row": self.max_jobs_per_row,
                "started_at": self.started_at,
                "path": self.path,
                "model": self.model,
                "done": self.done,
                "plan": self.plan,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Submit every chunk, a few rows at a time within the budget; read how the jobs sent stand first."""
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        plan = SubmitPlan.read(self.plan) if self.plan is not None else None
        run = Submission(self, plan)
        try:
            hook = ApiframeHook(self.apiframe_conn_id)
            settings = await hook.async_settings()
            recorded = await plan.recorded() if plan else []
            for sent in recorded:  # chunks a triggerer before this one sent
                run.took(sent)
            async with hook.async_client() as client:
                for number in range(len(recorded), plan.chunks if plan else 1):
                    resend = await run.look(settings)
                    submits = await plan.submits(number) if plan else self.submits
                    sent = await run.submit(client, [*map(RowSubmit.read, submits), *resend])
                    if plan:
                        await plan.record(number, sent)
        except ApiframeError as error:  # the connection or the plan is unusable: nothing more is sent
            run.give_up(error)
        yield TriggerEvent(run.event())


class ApiframeBatchWaitTrigger(BaseTrigger):
    """
    Wait for every job of a batch through the process's status hub; yield each row's end event.

    Each job is watched as ``ApiframeJobTrigger`` watches one, so a thousand jobs are answered from a
    few ``GET /v2/jobs`` pages.

    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param jobs: Row index (a string) to the job id to wait for.
    :param settled: Row index to the row's final event, carried through to the event.
    :param poll_interval: Longest wait between two polls of one job, in seconds.
    :param deadline: Epoch seconds after which a job still running ends its row with ``timeout``.
    :param started_at: Epoch seconds when the batch first submitted: no job is older.
    :param model: The batch's model.
    """

    def __init__(
        self,
        apiframe_conn_id: str,
        jobs: dict[str, str],
        settled: dict[str, JobEvent],
        poll_interval: float,
        deadline: float,
        started_at: float,
        model: str | None = None,
    ) -> None:
        super().__init__()
        self.apiframe_conn_id = apiframe_conn_id
        self.jobs = jobs
        self.settled = settled
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline)
        self.started_at = float(started_at)
        self.model = model

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and plain-JSON kwargs a triggerer rebuilds the trigger from."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "apiframe_conn_id": self.apiframe_conn_id,
                "jobs": self.jobs,
                "settled": self.settled,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "started_at": self.started_at,
                "model": self.model,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Watch every job through the process's status hub; yield each row's end event."""
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        try:
            settings = await ApiframeHook(self.apiframe_conn_id).async_settings()
        except ApiframeError as error:
            results = {i: error_event(job_id, "error", str(error)) for i, job_id in self.jobs.items()}
            yield TriggerEvent(self._event(results))
            return
        progress = Progress(self.log, "ended", len(self.jobs))
        quiet = RowLog(self.log)

        async def wait_row(job_id: str) -> JobEvent:
            watch = JobWatch(
                job_id,
                poll_interval=self.poll_interval,
                deadline=self.deadline,
                submitted_at=self.started_at,
                log=quiet,
                model=self.model,
            )
            event = await watch_through(hub, watch, created_hint=self.started_at)
            progress.one_more()
            return event

        async with shared_hub(settings) as hub:
            indexes = list(self.jobs)
            events = await asyncio.gather(*(wait_row(self.jobs[i]) for i in indexes))
        yield TriggerEvent(self._event(dict(zip(indexes, events, strict=True))))

    def _event(self, results: Mapping[str, JobEvent]) -> BatchWaited:
        return {"results": dict(results), "settled": self.settled, "started_at": self.started_at}
