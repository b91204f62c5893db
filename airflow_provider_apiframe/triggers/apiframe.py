"""The trigger that waits for an apiframe job on the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_apiframe.exceptions import ApiframeError, ApiframeTransientError
from airflow_provider_apiframe.waiting.events import JobEvent
from airflow_provider_apiframe.waiting.status_hub import StatusHub, shared_hub
from airflow_provider_apiframe.waiting.watch import JobWatch, error_event
from airflow_provider_apiframe.wire.jobs import Job

# A poll under way at the deadline may still bring the end: it gets this long before the wait gives up.
DEADLINE_GRACE = 5.0


class ApiframeJobTrigger(BaseTrigger):
    """
    Wait for the job to end or ``deadline`` to pass, then yield one event.

    The job's status comes from the process's ``StatusHub``: every trigger of a triggerer that uses the
    same connection shares one HTTP session and one stream of ``GET /v2/jobs`` pages, and each asks for
    news when its ``JobWatch`` expects the job to have ended. It holds only plain values (ids, floats,
    strings), so a restarted triggerer rebuilds it from its serialized form and goes on waiting for the
    same job: nothing is ever resubmitted from here.

    :param job_id: The job to wait for.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param poll_interval: Longest wait between two polls, in seconds.
    :param deadline: Epoch seconds after which the wait ends with a ``timeout`` event.
    :param submitted_at: Epoch seconds of the submit, to judge the job's pace from its progress.
    :param model: The job's model, if known: pages are then filtered to it and its history applies
        from the first poll.
    """

    def __init__(
        self,
        job_id: str,
        apiframe_conn_id: str,
        poll_interval: float,
        deadline: float,
        submitted_at: float,
        model: str | None = None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.apiframe_conn_id = apiframe_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline)
        self.submitted_at = float(submitted_at)
        self.model = model

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and plain-JSON kwargs a triggerer rebuilds the trigger from."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "apiframe_conn_id": self.apiframe_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "submitted_at": self.submitted_at,
                "model": self.model,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Watch the job through the process's status hub; yield its end event."""
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        watch = JobWatch(
            self.job_id,
            poll_interval=self.poll_interval,
            deadline=self.deadline,
            submitted_at=self.submitted_at,
            log=self.log,
            model=self.model,
        )
        try:
            settings = await ApiframeHook(self.apiframe_conn_id).async_settings()
        except ApiframeError as error:
            # The connection is missing its key or is malformed.
            yield TriggerEvent(error_event(self.job_id, "error", str(error)))
            return
        async with shared_hub(settings) as hub:
            event = await watch_through(hub, watch, created_hint=self.submitted_at)
        yield TriggerEvent(event)


async def watch_through(hub: StatusHub, watch: JobWatch, *, created_hint: float) -> JobEvent:
    """Ask the hub for news of the watched job whenever the watch wants it, until it gives the end event."""
    async with hub.watch(watch.job_id, created_hint=created_hint, model=watch.model) as news:
        step: JobEvent | float = watch.first_delay(time.time())
        while not isinstance(step, dict):
            outcome = await _within(news.next(time.time() + step), watch.deadline)
            step = watch.after_poll(outcome, time.time())
    return step


async def _within(answer: Awaitable[Job | ApiframeError], deadline: float) -> Job | ApiframeError:
    """Await the hub's answer, or return a transient error once the deadline has passed without one."""
    try:
        return await asyncio.wait_for(answer, max(0.0, deadline - time.time()) + DEADLINE_GRACE)
    except TimeoutError:
        return ApiframeTransientError("No status could be had before the deadline.")
