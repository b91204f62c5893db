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
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_apiframe.batch.plan import SentChunk, SubmitPlan
from airflow_provider_apiframe.catalogue.operations import IMAGE_GENERATION
from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeError,
    ApiframeInsufficientCreditsError,
)
from airflow_provider_apiframe.triggers.apiframe import watch_through
from airflow_provider_apiframe.utils.logs import Log
from airflow_provider_apiframe.waiting.events import (
    BatchSubmitted,
    BatchWaited,
    JobEvent,
    JobFailed,
    is_sent_again,
)
from airflow_provider_apiframe.waiting.status_hub import shared_hub
from airflow_provider_apiframe.waiting.watch import JobWatch, error_event
from airflow_provider_apiframe.wire.idempotency import KeyChain

if TYPE_CHECKING:
    from airflow_provider_apiframe.hooks.apiframe import AsyncApiframeClient
    from airflow_provider_apiframe.wire.transport import ClientSettings

# Submits in flight at once: the budget paces them; a few in flight hide each one's round trip.
SUBMITS_IN_FLIGHT = 8
# How often a running batch says how far it got, in seconds.
REPORT_EVERY = 30.0
# A look at earlier chunks' jobs is one answer each: no job times out within it.
LOOK_HORIZON = 3600.0


class RowSubmit(NamedTuple):
    """
    One row's submit, as the trigger's kwargs store it.

    Stored as ``[index, key, body]`` or ``[index, key, body, failure]``: the form deferred batches in
    users' databases already hold.

    :param row: The row's place in the batch.
    :param key: The idempotency key of the row's first job.
    :param body: The request body, checked.
    :param failure: For a row whose job failed, that job's end event (the API's reason, reported if the
        row is given up).
    """

    row: int
    key: str
    body: dict[str, Any]
    failure: JobFailed | None = None

    def stored(self) -> list[Any]:
        """Return the plain JSON list the trigger's kwargs hold."""
        entry: list[Any] = [self.row, self.key, self.body]
        return entry if self.failure is None else [*entry, self.failure]

    @classmethod
    def read(cls, entry: Sequence[Any]) -> RowSubmit:
        """Read a stored entry back."""
        return cls(int(entry[0]), str(entry[1]), dict(entry[2]), entry[3] if len(entry) > 3 else None)


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
        run = _Submission(self, plan)
        try:
            hook = ApiframeHook(self.apiframe_conn_id)
            settings = await hook.async_settings()
            async with hook.async_client() as client:
                for number in range(plan.chunks if plan else 1):
                    sent = await plan.sent(number) if plan else None
                    if sent is not None:  # a triggerer before this one sent it
                        run.took(sent)
                        continue
                    resend = await run.look(settings)
                    submits = await plan.submits(number) if plan else self.submits
                    sent = await run.submit(client, [*map(RowSubmit.read, submits), *resend])
                    if plan:
                        await plan.record(number, sent)
        except ApiframeError as error:  # the connection or the plan is unusable: nothing more is sent
            run.give_up(error)
        yield TriggerEvent(run.event())


class _Submission:
    """
    Where one submit trigger's run stands: the rows' jobs and ends so far, and which to send again.

    A row of the plan whose job was seen failed (or cancelled) is sent again with the next chunk, its
    body read back from its chunk; a row from before the plan (an earlier try's or submission's) is
    handed to the operator in ``ended``.
    """

    def __init__(self, trigger: ApiframeBatchSubmitTrigger, plan: SubmitPlan | None) -> None:
        self._trigger, self._plan = trigger, plan
        self._log = trigger.log
        self.started_at = trigger.started_at if trigger.started_at is not None else time.time()
        self.jobs, self.settled = dict(trigger.jobs), dict(trigger.settled)
        self.ended: dict[str, JobEvent] = {}
        self.done = set(trigger.done)
        self._stop: list[ApiframeError] = []
        self._rows = [*plan.rows] if plan else [int(entry[0]) for entry in trigger.submits]
        self._progress = _Progress(self._log, "submitted", len(self._rows))

    def took(self, sent: SentChunk) -> None:
        """Take in a chunk an earlier triggerer sent."""
        self.jobs.update(sent.jobs)
        self.settled.update(sent.settled)

    async def look(self, settings: ClientSettings) -> list[RowSubmit]:
        """Read how the jobs sent so far stand; return the rows of the plan to send again."""
        unseen = {index: job_id for index, job_id in self.jobs.items() if index not in self.done}
        if not unseen:
            return []
        ended, completed = await self._read(settings, unseen)
        self.done |= completed
        resend: list[RowSubmit] = []
        chunks: dict[int, dict[str, list[Any]]] = {}
        plan = self._plan
        for index, event in ended.items():
            del self.jobs[index]
            number = plan.chunk_holding(int(index)) if plan else None
            if plan is None or number is None or not is_sent_again(event):
                self.ended[index] = event
                continue
            if number not in chunks:
                chunks[number] = {str(entry[0]): entry for entry in await plan.submits(number)}
            resend.append(RowSubmit.read(chunks[number][index])._replace(failure=event))
        return resend

    async def submit(self, client: AsyncApiframeClient, rows: list[RowSubmit]) -> SentChunk:
        """Submit rows, a few at a time within the budget; return each one's job, or its end."""
        in_flight = asyncio.Semaphore(SUBMITS_IN_FLIGHT)
        sent = SentChunk({}, {})

        async def submit_row(row: RowSubmit) -> None:
            index = str(row.row)
            async with in_flight:
                if self._stop:
                    sent.settled[index] = error_event("", "error", f"Not submitted: {self._stop[0]}")
                    return
                try:
                    outcome = await self._submit_chain(client, row)
                except (ApiframeInsufficientCreditsError, ApiframeAuthError) as error:
                    self._stop.append(error)
                    outcome = error_event("", "error", f"Not submitted: {error}")
                except ApiframeError as error:
                    outcome = error_event("", "error", f"Submit failed: {error}")
                if isinstance(outcome, str):
                    sent.jobs[index] = outcome
                else:
                    sent.settled[index] = outcome
                self._progress.one_more()

        await asyncio.gather(*(submit_row(row) for row in rows))
        self.took(sent)
        return sent

    async def _read(
        self, settings: ClientSettings, jobs: dict[str, str]
    ) -> tuple[dict[str, JobEvent], set[str]]:
        """
        Read once how earlier rows' jobs stand: events of those ended without outputs; rows completed.

        A row whose job failed, was cancelled or is gone is so settled or sent again now; one whose job
        completed is not read again until the last wait (a page for a hundred), so that trigger rows
        hold job ids only. Asked for all at once, the hub answers them from a few pages of the newest
        jobs, where the earlier chunk's sit.
        """
        quiet = _RowLog(self._log)

        async def look(job_id: str) -> JobEvent | float:
            watch = JobWatch(
                job_id,
                poll_interval=LOOK_HORIZON,
                deadline=time.time() + LOOK_HORIZON,
                submitted_at=self.started_at,
                log=quiet,
                model=self._trigger.model,
            )
            async with hub.watch(job_id, created_hint=self.started_at, model=self._trigger.model) as news:
                return watch.after_poll(await news.next(time.time()), time.time())

        async with shared_hub(settings) as hub:
            indexes = list(jobs)
            outcomes = await asyncio.gather(*(look(jobs[i]) for i in indexes))
        ended = {index: o for index, o in zip(indexes, outcomes, strict=True) if isinstance(o, dict)}
        completed = {index for index, outcome in ended.items() if outcome["status"] == "success"}
        unsuccessful = {index: outcome for index, outcome in ended.items() if index not in completed}
        self._log.info(
            "Of %d earlier rows' jobs, %d completed and %d ended without outputs",
            len(indexes),
            len(completed),
            len(unsuccessful),
        )
        return unsuccessful, completed

    async def _submit_chain(self, client: AsyncApiframeClient, row: RowSubmit) -> str | JobFailed:
        """Return the row's live (or finished) job id, walking past failed jobs; its end event if given up."""
        chain = KeyChain(row.key, self._trigger.max_jobs_per_row)
        accepted = await client.submit(row.body, chain.key, path=self._trigger.path)
        while chain.follow(accepted):
            accepted = await client.submit(row.body, chain.key, path=self._trigger.path)
        if not accepted.status.is_unsuccessful:
            return str(accepted.job_id)
        status = accepted.status.value
        failure = row.failure
        reason = failure["message"] if failure and failure["job_id"] == accepted.job_id else None
        return error_event(
            accepted.job_id,
            status.lower(),
            f"{reason or f'Job {accepted.job_id} ended {status}.'} Given up after "
            f"{self._trigger.max_jobs_per_row} job(s) for this row.",
        )

    def give_up(self, error: ApiframeError) -> None:
        """Settle every row not sent yet with the error that stopped the submission."""
        for index in map(str, self._rows):
            if index not in self.jobs and index not in self.settled:
                self.settled[index] = error_event("", "error", str(error))

    def event(self) -> BatchSubmitted:
        """Return what the submission gave, for the operator."""
        return {
            "jobs": self.jobs,
            "settled": self.settled,
            "started_at": self.started_at,
            "ended": self.ended,
            "done": sorted(self.done, key=int),
        }


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
        progress = _Progress(self.log, "ended", len(self.jobs))
        quiet = _RowLog(self.log)

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


class _RowLog:
    """A watch's log for one row of many: its status changes are detail, its warnings still warnings."""

    def __init__(self, log: Log) -> None:
        self._log = log

    def debug(self, msg: Any, /, *args: Any, **kwargs: Any) -> None:
        self._log.debug(msg, *args, **kwargs)

    info = debug

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> None:
        self._log.warning(msg, *args, **kwargs)


class _Progress:
    """Says every ``REPORT_EVERY`` seconds how many of the batch's rows got through a step."""

    def __init__(self, log: Log, verb: str, total: int) -> None:
        self._log, self._verb, self._total = log, verb, total
        self._count = 0
        self._reported_at = time.monotonic()

    def one_more(self) -> None:
        self._count += 1
        now = time.monotonic()
        if self._count == self._total or now - self._reported_at >= REPORT_EVERY:
            self._reported_at = now
            self._log.info("%d of %d rows %s", self._count, self._total, self._verb)
