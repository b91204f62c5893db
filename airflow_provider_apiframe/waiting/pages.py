"""
``GET /v2/jobs`` pages: how to ask for one, how to read one, and what its finished jobs teach.

A page answers for up to 100 jobs in one request, and every finished job on it carries its model's
real duration; the triggerer's status hub and a worker's blocking wait both read pages this way.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from airflow_provider_apiframe.exceptions import ApiframeTransientError, shown
from airflow_provider_apiframe.waiting.durations import history_for
from airflow_provider_apiframe.wire.jobs import Job, parse_job
from airflow_provider_apiframe.wire.transport import ApiRequest

log = logging.getLogger(__name__)

PAGE_SIZE = 100
# Finished jobs already taught to the model history, so that each counts once however many pages show it.
LEARNED_KEPT = 4096


@dataclass
class Page:
    """One page of jobs, and the cursor of the next if more follow."""

    jobs: list[Job]
    next_cursor: str | None


def page_request(cursor: str | None = None, model: str | None = None) -> ApiRequest:
    """Ask for the newest page (no cursor) or the one after ``cursor``, of ``model``'s jobs if given."""
    query: dict[str, Any] = {"limit": PAGE_SIZE}
    if cursor:
        query["cursor"] = cursor
    if model:
        query["model"] = model
    return ApiRequest("GET", f"/v2/jobs?{urlencode(query)}")


def parse_page(body: Any) -> Page:
    """Read a page's jobs; an item that is no readable job is left out, and the page logged once."""
    if not isinstance(body, dict) or not isinstance(body.get("jobs"), list):
        raise ApiframeTransientError(f"GET /v2/jobs answered without a list of jobs: {shown(body)}")
    jobs = []
    left_out: list[Exception] = []
    for item in body["jobs"]:
        try:
            jobs.append(parse_job(item))
        # Not only ApiframeError: one item's flaw, whatever it raises, must not cost the others their news.
        except Exception as error:
            left_out.append(error)
    if left_out:
        log.warning(
            "Left out %d of the %d items of a GET /v2/jobs page that are no readable job; the first: %s: %s",
            len(left_out),
            len(body["jobs"]),
            type(left_out[0]).__name__,
            left_out[0],
        )
    cursor = body.get("nextCursor")
    more = body.get("hasMore")
    return Page(jobs, cursor if isinstance(cursor, str) and cursor and more is not False else None)


class DurationLearner:
    """Teaches the model histories the durations of finished jobs seen on pages, each job once."""

    def __init__(self) -> None:
        self._learned: OrderedDict[str, None] = OrderedDict()

    def learn(self, job: Job) -> None:
        """Teach ``job``'s model history its duration, if it has one and was not taught it before."""
        if job.duration is None or job.id in self._learned:
            return
        self._learned[job.id] = None
        if len(self._learned) > LEARNED_KEPT:
            self._learned.popitem(last=False)
        history_for(job.model).record(job.duration)
