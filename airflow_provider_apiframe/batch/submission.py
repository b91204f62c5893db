"""
How a batch's submit trigger sends its rows: a chunk at a time, each row under its idempotency key.

Before each chunk it reads how the jobs sent so far stand, and sends the failed ones again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from airflow_provider_apiframe.batch.plan import SentChunk, SubmitPlan
from airflow_provider_apiframe.batch.progress import Progress, RowLog
from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeError,
    ApiframeInsufficientCreditsError,
    ApiframeTransientError,
)
from airflow_provider_apiframe.waiting.events import BatchSubmitted, JobEvent, JobFailed, is_sent_again
from airflow_provider_apiframe.waiting.status_hub import shared_hub
from airflow_provider_apiframe.waiting.watch import JobWatch, error_event
from airflow_provider_apiframe.wire.idempotency import KeyChain

if TYPE_CHECKING:
    from airflow_provider_apiframe.hooks.apiframe import AsyncApiframeClient
    from airflow_provider_apiframe.utils.logs import Log
    from airflow_provider_apiframe.wire.transport import ClientSettings

# Submits in flight at once: the budget paces them; a few in flight hide each one's round trip.
SUBMITS_IN_FLIGHT = 8
# A look at the jobs sent so far is one answer each: no job times out within it.
LOOK_HORIZON = 3600.0


class SubmitOrder(Protocol):
    """What a submission takes from its trigger: the trigger's kwargs, and its log."""

    submits: list[list[Any]]
    jobs: dict[str, str]
    settled: dict[str, JobEvent]
    max_jobs_per_row: int
    started_at: float | None
    path: str
    model: str | None
    done: list[str]

    @property
    def log(self) -> Log:
        """The trigger's log."""


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


class Submission:
    """
    Where one submit trigger's run stands: the rows' jobs and ends so far, and which to send again.

    A row of the plan whose job was seen failed (or cancelled) is sent again with the next chunk, its
    body read back from its chunk; a row from before the plan (an earlier try's or submission's) is
    handed to the operator in ``ended``.
    """

    def __init__(self, trigger: SubmitOrder, plan: SubmitPlan | None) -> None:
        self._trigger, self._plan = trigger, plan
        self._log = trigger.log
        self.started_at = trigger.started_at if trigger.started_at is not None else time.time()
        self.jobs, self.settled = dict(trigger.jobs), dict(trigger.settled)
        self.ended: dict[str, JobEvent] = {}
        self.done = set(trigger.done)
        self._stop: list[ApiframeError] = []
        self._rows = [*plan.rows] if plan else [int(entry[0]) for entry in trigger.submits]
        self._progress = Progress(self._log, "submitted", len(self._rows))

    def took(self, sent: SentChunk) -> None:
        """Take in what a chunk's submits gave (this run's, or an earlier triggerer's)."""
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
                    if isinstance(error, ApiframeTransientError):
                        # The API failed this row for the whole of retry_timeout: each row after it would
                        # wait as long, so a dead API would hold the batch for hours rather than minutes.
                        self._stop.append(error)
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
        quiet = RowLog(self._log)

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
