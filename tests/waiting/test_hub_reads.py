"""When the status hub reads pages, against an API stand-in in memory whose reads a test holds or lets go."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from airflow_provider_apiframe.waiting.durations import MIN_SAMPLES, history_for
from airflow_provider_apiframe.waiting.status_hub import StatusHub, worth_delay
from airflow_provider_apiframe.waiting.watch import EARLY_SHARE, FIRST_POLL_AFTER
from airflow_provider_apiframe.wire.jobs import Job, JobStatus
from airflow_provider_apiframe.wire.transport import ApiRequest

MODEL = "imagen-4"


class PagesInMemory:
    """``GET /v2/jobs`` from memory: each cursor's job ids and the next cursor; a held cursor's read waits."""

    budget = None

    def __init__(
        self, pages: dict[str, tuple[list[str], str | None]], status: str, created_at: float
    ) -> None:
        self.pages = pages
        self.status = status
        self.created_at = datetime.fromtimestamp(created_at, UTC).isoformat()
        self.reads: list[tuple[float, str]] = []
        self.models: list[str | None] = []
        self.held: dict[str, asyncio.Event] = {}

    async def send(self, request: ApiRequest) -> dict:
        query = parse_qs(urlsplit(request.path).query)
        cursor = query.get("cursor", [""])[0]
        self.reads.append((time.time(), cursor))
        self.models.append(query.get("model", [None])[0])
        if cursor in self.held:
            await self.held[cursor].wait()
        job_ids, next_cursor = self.pages[cursor]
        jobs = [
            {"id": job_id, "status": self.status, "model": MODEL, "createdAt": self.created_at}
            for job_id in job_ids
        ]
        return {"jobs": jobs, "hasMore": next_cursor is not None, "nextCursor": next_cursor}

    async def close(self) -> None:
        """Nothing to close: no session."""


def job_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def test_the_worth_of_a_shared_read_starts_at_the_model_s_earliest_likely_end_once_learned():
    assert worth_delay(MODEL) == FIRST_POLL_AFTER  # nothing learned: soon after the submit
    history = history_for(MODEL)
    for duration in (3.0, 3.2, 3.4, 3.6, 3.8) * 4:
        history.record(duration)
    shortest = history.shortest_likely(EARLY_SHARE)
    assert shortest is not None and 2.5 < shortest < 3.0
    assert worth_delay(MODEL) == shortest


def test_the_shortest_likely_job_is_unknown_until_enough_durations_are_known():
    history = history_for(MODEL)
    for _ in range(MIN_SAMPLES - 1):
        history.record(8.0)
    assert history.shortest_likely(EARLY_SHARE) is None
    history.record(8.0)
    shortest = history.shortest_likely(EARLY_SHARE)
    # The kernel spreads each duration a little: the shortest likely job is a little under 8 s.
    assert shortest is not None and 7.0 < shortest < 8.0
    # A larger share of the jobs is shorter than a longer length.
    assert history.shortest_likely(0.5) > shortest


def test_a_learned_hub_reads_no_page_before_any_job_of_the_model_can_have_ended():
    history = history_for(MODEL)
    for duration in (3.0, 3.2, 3.4, 3.6, 3.8) * 4:
        history.record(duration)
    earliest_end = history.shortest_likely(EARLY_SHARE)
    assert earliest_end is not None and earliest_end > FIRST_POLL_AFTER
    ids = job_ids(20)
    submitted = time.time()
    api = PagesInMemory({"": (ids, None)}, "COMPLETED", submitted)

    async def scenario() -> list:
        hub = StatusHub(api)  # type: ignore[arg-type]
        try:
            async with contextlib.AsyncExitStack() as stack:
                news = [
                    await stack.enter_async_context(hub.watch(i, created_hint=submitted, model=MODEL))
                    for i in ids
                ]
                # Due in a minute: only what the jobs are worth to each other can bring a read sooner.
                return await asyncio.gather(*(n.next(submitted + 60) for n in news))
        finally:
            await hub.close()

    answers = asyncio.run(scenario())
    assert all(isinstance(a, Job) and a.status is JobStatus.COMPLETED for a in answers)
    first_read = api.reads[0][0]
    # Twenty jobs are worth a read every PAGE_GAP, but not before the shortest of them may have ended.
    assert first_read - submitted >= earliest_end
    assert len(api.reads) == 1


def test_a_read_that_hangs_holds_up_no_other_page_s_reads():
    newest, older = job_ids(2), job_ids(1)
    created = time.time()
    api = PagesInMemory({"": (newest, "after-newest"), "after-newest": (older, None)}, "PROCESSING", created)

    async def scenario() -> tuple[int, Job]:
        hub = StatusHub(api)  # type: ignore[arg-type]
        try:
            async with contextlib.AsyncExitStack() as stack:
                first, second, third = [
                    await stack.enter_async_context(hub.watch(i, created_hint=created, model=MODEL))
                    for i in (*newest, *older)
                ]
                # Placed: a sweep reads the newest page, then the older one.
                await asyncio.gather(
                    first.next(time.time()), second.next(time.time()), third.next(time.time())
                )
                api.held["after-newest"] = asyncio.Event()
                hung = asyncio.ensure_future(third.next(time.time()))
                while not any(cursor == "after-newest" for _, cursor in api.reads[2:]):
                    await asyncio.sleep(0.05)
                # The older page's read hangs; the newest page is still read whenever its waiters ask.
                for _ in range(2):
                    await asyncio.wait_for(first.next(time.time()), timeout=30)
                newest_reads = sum(cursor == "" for _, cursor in api.reads[2:])
                api.held["after-newest"].set()
                return newest_reads, await hung
        finally:
            await hub.close()

    newest_reads, late = asyncio.run(scenario())
    assert newest_reads == 2
    assert late.id == older[0]


def test_running_jobs_sharing_a_page_are_answered_together_not_each_at_its_own_due_time():
    ids = job_ids(2)
    created = time.time() - 10  # both may have ended by now: each is worth its share of a read
    api = PagesInMemory({"": (ids, None)}, "PROCESSING", created)

    async def scenario() -> tuple[list[float], float]:
        hub = StatusHub(api)  # type: ignore[arg-type]
        try:
            async with contextlib.AsyncExitStack() as stack:
                soon, later = [
                    await stack.enter_async_context(hub.watch(i, created_hint=created, model=MODEL))
                    for i in ids
                ]
                await asyncio.gather(soon.next(time.time()), later.next(time.time()))  # placed
                asked = time.time()
                answered = []

                async def ask(news, due: float) -> None:
                    assert isinstance(await news.next(due), Job)
                    answered.append(time.time() - asked)

                # Two late jobs whose own schedules ask a second apart: the page's read for the first
                # answers the second too, so its next due counts from there.
                await asyncio.gather(ask(soon, asked + 1.0), ask(later, asked + 2.2))
                return answered, len(api.reads)
        finally:
            await hub.close()

    answered, reads = asyncio.run(scenario())
    assert reads == 2  # the sweep that placed them, and one read for both
    assert max(answered) < 2.0


def test_pages_are_filtered_by_model_while_every_waiter_waits_for_one_model():
    ids = job_ids(3)
    created = time.time() - 10
    api = PagesInMemory({"": (ids, None)}, "PROCESSING", created)

    async def scenario() -> None:
        hub = StatusHub(api)  # type: ignore[arg-type]
        try:
            async with contextlib.AsyncExitStack() as stack:
                koi, heron = [
                    await stack.enter_async_context(hub.watch(i, created_hint=created, model=MODEL))
                    for i in ids[:2]
                ]
                await asyncio.gather(koi.next(time.time()), heron.next(time.time()))
                async with hub.watch(ids[2], created_hint=created, model="flux-pro") as other:
                    await asyncio.gather(koi.next(time.time()), other.next(time.time()))
                await koi.next(time.time() + 1)
        finally:
            await hub.close()

    asyncio.run(scenario())
    # Filtered while only imagen-4's jobs were waited for, not while a flux-pro job was, and again after.
    assert api.models[0] == MODEL and api.models[-1] == MODEL
    assert None in api.models[1:-1] and MODEL not in api.models[1:-1]
