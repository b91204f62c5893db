"""The trigger that waits for an apiframe job on the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_apiframe.exceptions import ApiframeError
from airflow_provider_apiframe.jobs import Job
from airflow_provider_apiframe.polling import Event, JobWatch, error_event


class ApiframeJobTrigger(BaseTrigger):
    """
    Poll ``GET /v2/jobs/{id}`` until the job ends or ``deadline`` passes, then yield one event.

    It holds only plain values (ids, floats, strings), so a restarted triggerer rebuilds it from its
    serialized form and goes on polling the same job: nothing is ever resubmitted from here. All polls
    share one HTTP session, closed when the trigger ends or is cancelled.

    :param job_id: The job to wait for.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param poll_interval: Longest wait between two polls, in seconds.
    :param deadline: Epoch seconds after which the wait ends with a ``timeout`` event.
    :param submitted_at: Epoch seconds of the submit, to judge the job's pace from its progress.
    """

    def __init__(
        self,
        job_id: str,
        apiframe_conn_id: str,
        poll_interval: float,
        deadline: float,
        submitted_at: float,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.apiframe_conn_id = apiframe_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline)
        self.submitted_at = float(submitted_at)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "apiframe_conn_id": self.apiframe_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "submitted_at": self.submitted_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        watch = JobWatch(
            self.job_id,
            poll_interval=self.poll_interval,
            deadline=self.deadline,
            submitted_at=self.submitted_at,
            log=self.log,
        )
        try:
            async with ApiframeHook(self.apiframe_conn_id).async_client() as client:
                step: Event | float = watch.first_delay(time.time())
                while not isinstance(step, dict):
                    await asyncio.sleep(step)
                    try:
                        outcome: Job | ApiframeError = await client.get_job(self.job_id)
                    except ApiframeError as error:
                        outcome = error
                    step = watch.after_poll(outcome, time.time())
                yield TriggerEvent(step)
        except ApiframeError as error:
            # Raised before the first poll: the connection is missing its key or is malformed.
            yield TriggerEvent(error_event(self.job_id, "error", str(error)))
