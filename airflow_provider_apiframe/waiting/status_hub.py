"""
One stream of status requests for every job a process waits for with one connection.

A triggerer holding a hundred deferred tasks, or one task waiting for a batch, would otherwise send a
``GET /v2/jobs/{id}`` per job and poll. Each waiter instead asks the process's ``StatusHub`` for news of
its job by a due time; the hub answers from ``GET /v2/jobs`` pages (up to 100 jobs a request) and
remembers on which page each job sits, so that later it fetches only the pages that hold waiting jobs.

The hub prices its reads: a page costs one request for every job on it, so a job that waits with others
is worth a read of its page every few seconds (``SHARED_WORTH``) whatever its own schedule says, from
the moment it may have ended (``worth_delay``), and a page is read as soon as what its waiters are worth
adds up to one request. A waiter's own schedule only says when it needs a fresh answer at the latest; a
read answers every waiter on its page due before the page is next worth reading, so that the late jobs
of a page ask in step with its reads. How often pages can come is the budget's: all the pages the hub
reads share ``READ_SHARE`` of the pace of the budget its transport books with (the rest is the margin
for submits and other processes on the key), none is read sooner than ``PAGE_GAP`` after the last time,
and none while sends already booked on the budget wait their turn. Each read is a task of its own,
started when its page is due, so a slow one holds up no other. A job that no page shows (another
user's, or a stand-in API without the list) is asked about alone, and so is a job waited for alone,
where one ``GET`` by id is as cheap as a page, once its model's durations are known (until then a page
of the model's jobs, for the same one request, also teaches them).

Waiters keep their own state (``JobWatch``); the hub holds only who waits for what and the page
positions, and its background task and HTTP session live exactly as long as someone uses the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial

from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeError,
    ApiframeNotFoundError,
    ApiframeTransientError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.utils import metrics
from airflow_provider_apiframe.waiting.durations import MIN_SAMPLES, history_for
from airflow_provider_apiframe.waiting.pages import PAGE_SIZE, DurationLearner, Page, page_request, parse_page
from airflow_provider_apiframe.waiting.watch import EARLY_SHARE, FIRST_POLL_AFTER
from airflow_provider_apiframe.wire.jobs import Job, parse_job
from airflow_provider_apiframe.wire.transport import AsyncTransport, ClientSettings, job_request

log = logging.getLogger(__name__)

# No page is fetched more often than this; a waiter due sooner after a fetch waits for the next one.
PAGE_GAP = 0.8
# The share of the budget's pace the hub's reads may take: the rest is kept for submits (a batch's submit
# trigger books the same budget) and, with a shared budget, for the other processes on the key.
READ_SHARE = 0.8
# Reads a second a waiting job is worth where others wait too: what the operator's default poll_interval
# (5 s) would cost it alone. A read answers for all of a page's jobs, so a hundred of them make it worth a
# request every PAGE_GAP, a couple every few seconds, whatever their own schedules say.
SHARED_WORTH = 0.2
# A budget kept in another process (Redis) is asked for its headroom at most this often.
HEADROOM_TTL = 1.0
# A job created this long before the submit time a waiter was given is still looked for on a page
# (the API's clock and ours may differ a little).
CLOCK_SLACK = 30.0
MAX_IN_FLIGHT = 4
# A page key for the newest page (no cursor); None means "not seen on any page yet", and is the key of the
# sweep that looks for such waiters from the top.
TOP = ""

Outcome = Job | ApiframeError


@dataclass(eq=False)
class Waiter:
    """One wait for a job: when it wants news, and where the job was last seen."""

    job_id: str
    created_hint: float
    model: str | None
    due: float = float("inf")
    asked_at: float = 0.0
    future: asyncio.Future[Outcome] | None = None
    created_at: float | None = None
    page: str | None = None
    unlisted: bool = False

    @property
    def waiting(self) -> bool:
        """Whether the waiter is awaiting an answer now."""
        return self.future is not None and not self.future.done()

    def answer(self, outcome: Outcome) -> None:
        """Answer the waiter's pending request, if it still awaits one."""
        if self.future is not None and not self.future.done():
            self.future.set_result(outcome)

    @property
    def oldest_possible(self) -> float:
        """The earliest the job can have been created: the API's time if known, else the hint less slack."""
        return self.created_at if self.created_at is not None else self.created_hint - CLOCK_SLACK


class Subscription:
    """One job's place in the hub: ask it for news by a due time, as often as the wait needs."""

    def __init__(self, hub: StatusHub, waiter: Waiter) -> None:
        self._hub = hub
        self._waiter = waiter

    async def next(self, due: float) -> Outcome:
        """Return the job as seen at or after ``due`` (epoch seconds), sooner if it ended; or the error."""
        loop = asyncio.get_running_loop()
        self._waiter.future = loop.create_future()
        self._waiter.due = due
        self._waiter.asked_at = time.time()
        self._hub.wake()
        try:
            return await self._waiter.future
        finally:
            self._waiter.future = None


class StatusHub:
    """Job statuses for every waiter of one event loop and one connection's settings."""

    def __init__(self, transport: AsyncTransport) -> None:
        self.transport = transport
        # Several waiters may wait for one job (an operator and a sensor, say): each has its own due time.
        self.waiters: dict[str, list[Waiter]] = {}
        self.page_fetched_at: dict[str | None, float] = {}
        self.list_supported = True
        self.users = 0
        self._filter_model: str | None = None
        # How many waiters wait for each model's jobs, kept as they come and go: a batch's ten thousand
        # waiters register one by one, and counting them all at each would block the triggerer's loop.
        self._models: Counter[str | None] = Counter()
        self._durations = DurationLearner()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        # Reads under way, each its own task so that one slow read holds up no other: the pages being read
        # (None: the sweep for unplaced waiters), and the waiters being asked about alone.
        self._reading: set[str | None] = set()
        self._asking: set[Waiter] = set()
        self._reads: set[asyncio.Task[None]] = set()
        # What the budget allows the hub's reads: requests a second, and no read before hold_until.
        self.read_rate = math.inf
        self.hold_until = 0.0
        self._headroom_at = -math.inf
        # The least time between two reads of one page now: PAGE_GAP, or longer where the budget is short.
        self.gap = PAGE_GAP
        # Reads a second each page (None: the sweep) is worth to its waiters now.
        self._worth: dict[str | None, float] = {}

    @contextlib.asynccontextmanager
    async def watch(
        self, job_id: str, *, created_hint: float, model: str | None = None
    ) -> AsyncIterator[Subscription]:
        """Register a waiter for ``job_id`` for the duration of the block."""
        waiter = Waiter(job_id, created_hint, model)
        self.waiters.setdefault(job_id, []).append(waiter)
        self._models[model] += 1
        self._refilter()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="apiframe-status-hub")
        metrics.waiting(1)
        try:
            yield Subscription(self, waiter)
        finally:
            metrics.waiting(-1)
            others = [w for w in self.waiters.get(job_id, []) if w is not waiter]
            if others:
                self.waiters[job_id] = others
            else:
                self.waiters.pop(job_id, None)
            self._models[model] -= 1
            if not self._models[model]:
                del self._models[model]
            self._refilter()

    def wake(self) -> None:
        """Make the hub's loop look at the waiters' due times again."""
        self._wakeup.set()

    async def close(self) -> None:
        """Stop the hub's background task and its reads, and close its HTTP session."""
        tasks = [task for task in (self._task, *self._reads) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        await self.transport.close()

    def all_waiters(self) -> list[Waiter]:
        """Return the waiters of every job."""
        return [waiter for group in self.waiters.values() for waiter in group]

    # --- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            waiting = [w for w in self.all_waiters() if w.waiting]
            if waiting:
                await self._read_headroom()
            now = time.time()
            pages = self._pages_ready_at(waiting)
            # A waiter whose read is under way hears from it; the others are read as soon as they are ready,
            # not after every read of a round has come back.
            idle = [w for w in waiting if not self._being_read(w)]
            ready = [w for w in idle if self._ready_at(w, pages) <= now]
            if ready:
                self._start_reads(ready, now)
            else:
                await self._sleep_until(min((self._ready_at(w, pages) for w in idle), default=None))

    async def _read_headroom(self) -> None:
        """Take from the transport's budget how often the hub's reads may come, and from when."""
        budget = self.transport.budget
        if budget is None:
            return
        if budget.blocking:
            # Another process keeps the pace (Redis): ask it now and then, never on the loop's thread.
            if time.monotonic() - self._headroom_at < HEADROOM_TTL:
                return
            self._headroom_at = time.monotonic()
            headroom = await asyncio.to_thread(budget.headroom)
        else:
            headroom = budget.headroom()
        self.read_rate = READ_SHARE * headroom.rate
        # Sends booked before now go first: a read booked behind them would only be older when it came.
        self.hold_until = time.time() + headroom.wait

    def _listed(self, waiter: Waiter) -> bool:
        """Whether the waiter is answered with a page (so at its pace) rather than asked about by id."""
        return not waiter.unlisted and self._listing()

    def _pages_ready_at(self, waiting: list[Waiter]) -> dict[str | None, float]:
        """
        Return when each page is worth a read.

        That is once its waiters' worth, or the polls they asked for, add up to one request; the waiters
        not placed yet (key None) likewise, for the sweep that finds them.
        """
        rates: dict[str | None, float] = {}
        # A read before a job can have ended is worth nothing to it: its worth counts from then on.
        worth_from: dict[str | None, float] = {}
        unplaced: list[Waiter] = []
        shared = len(self.waiters) > 1
        shortest: dict[str | None, float] = {}
        for waiter in waiting:
            if not self._listed(waiter):
                continue
            if shared:
                # Its own schedule says when it needs news at the latest (its due time), not how often a
                # page it shares is worth reading: a late job asking every few seconds would otherwise
                # have the page read at every turn for it alone.
                rate = SHARED_WORTH
                if waiter.model not in shortest:
                    shortest[waiter.model] = worth_delay(waiter.model)
                start = waiter.created_hint + shortest[waiter.model]
                worth_from[waiter.page] = min(worth_from.get(waiter.page, start), start)
            else:
                # A waiter not placed yet is looked for at its due time.
                rate = 0.0 if waiter.page is None else 1 / max(waiter.due - waiter.asked_at, PAGE_GAP)
            rates[waiter.page] = rates.get(waiter.page, 0.0) + rate
            if waiter.page is None:
                unplaced.append(waiter)
        self._worth = rates
        # Every page read at the same pace, and a sweep of the unplaced as the pages it walks, fit the budget.
        reads = len(rates) - bool(unplaced) + math.ceil(len(unplaced) / PAGE_SIZE)
        self.gap = max(PAGE_GAP, reads / self.read_rate)
        # Waiters never swept for have waited since they asked.
        since = {None: min((w.asked_at for w in unplaced), default=0.0), **self.page_fetched_at}
        return {
            page: max(since.get(page, 0.0) + max(self.gap, 1 / rate), worth_from.get(page, 0.0))
            if rate
            else math.inf
            for page, rate in rates.items()
        }

    def _ready_at(self, waiter: Waiter, pages: dict[str | None, float]) -> float:
        """When a waiter can be answered: at its due time, or with its page, within the budget's gaps."""
        if not self._listed(waiter):
            return waiter.due
        earliest = max(self.page_fetched_at.get(waiter.page, 0.0) + self.gap, self.hold_until)
        return max(earliest, min(waiter.due, pages[waiter.page]))

    async def _sleep_until(self, moment: float | None) -> None:
        timeout = None if moment is None else max(0.0, moment - time.time())
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    def _listing(self) -> bool:
        """
        Whether waiters are answered from pages rather than asked about by id.

        They are when several wait, and when one waits for a job of a model whose durations are not known
        yet. A job waited for alone costs one request either way, and a page of its model's jobs also
        teaches how long they take.
        """
        if not self.list_supported:
            return False
        return len(self.waiters) > 1 or any(
            history_for(w.model).known_durations < MIN_SAMPLES for w in self.all_waiters()
        )

    def _being_read(self, waiter: Waiter) -> bool:
        """Whether a read that answers the waiter is under way: its page's, the sweep, or its own."""
        if waiter in self._asking:
            return True
        return self._listed(waiter) and waiter.page in self._reading

    def _start_reads(self, ready: list[Waiter], now: float) -> None:
        """Start the reads that answer ``ready``: one per page (the sweep for the unplaced), or alone."""
        by_page: dict[str | None, list[Waiter]] = {}
        for waiter in ready:
            if self._listed(waiter):
                by_page.setdefault(waiter.page, []).append(waiter)
            else:
                self._asking.add(waiter)
                self._spawn(self._get_one(waiter), [waiter], partial(self._asking.discard, waiter))
        for page, group in by_page.items():
            self._reading.add(page)
            work = self._sweep(group, now) if page is None else self._fetch_page(page, group)
            self._spawn(work, group, partial(self._reading.discard, page))

    def _spawn(self, work: Awaitable[None], waiters: list[Waiter], finished: Callable[[], None]) -> None:
        """Run one read as a task of its own; ``finished`` marks it over."""
        task = asyncio.get_running_loop().create_task(self._isolated(work, waiters))
        self._reads.add(task)

        def done(_: asyncio.Task[None]) -> None:
            self._reads.discard(task)
            finished()
            # What the read found (or did not) may make other reads due.
            self.wake()

        task.add_done_callback(done)

    @staticmethod
    async def _isolated(work: Awaitable[None], waiters: list[Waiter]) -> None:
        """
        Do one read (a page, the sweep, or one job alone), keeping a failure to its own waiters.

        Should it fail in a way no typed error foresaw, only its own waiters hear of it, as a transient
        error, and the other reads go on.
        """
        try:
            await work
        except Exception as error:
            log.exception("apiframe status hub failed to answer %d waiter(s)", len(waiters))
            for waiter in waiters:
                waiter.answer(ApiframeTransientError(f"status read failed: {error}"))

    # --- fetching ---------------------------------------------------------------------------------

    async def _get_one(self, waiter: Waiter) -> None:
        async with self._in_flight:
            try:
                outcome: Outcome = parse_job(await self.transport.send(job_request(waiter.job_id)))
            except ApiframeError as error:
                outcome = error
        if isinstance(outcome, Job):
            waiter.created_at = outcome.created_at
        waiter.answer(outcome)

    async def _fetch_page(self, cursor: str, group: list[Waiter]) -> None:
        page = await self._list(cursor, group)
        if page is None:
            return
        seen = self._take(page, cursor)
        for waiter in group:
            if waiter.job_id not in seen:
                # Not where it was: newer jobs pushed it off the newest page. Look for it from the top.
                waiter.page = None

    async def _sweep(self, unplaced: list[Waiter], now: float) -> None:
        """Walk from the newest page down until every unplaced waiter is found or cannot be."""
        self.page_fetched_at[None] = now
        looking = set(unplaced)
        oldest = min(w.oldest_possible for w in unplaced)
        cursor: str | None = TOP
        pages = 0
        # Where other processes' jobs sit between ours, ours spread over more pages than they would fill:
        # a page is still cheaper than asking alone for the waiters it may hold, while fewer pages have
        # been read than waiters are missing.
        while looking and cursor is not None and pages < max(len(looking), 2):
            page = await self._list(cursor, list(looking))
            if page is None:
                return
            pages += 1
            seen = self._take(page, cursor)
            looking = {w for w in looking if w.job_id not in seen}
            created = [job.created_at for job in page.jobs if job.created_at is not None]
            if created and min(created) < oldest:
                break
            cursor = page.next_cursor
        for waiter in looking:
            # Not on the pages it should be on (another user's job, or the list omits it): ask alone.
            waiter.unlisted = True
        self._asking.update(looking)
        try:
            await asyncio.gather(*(self._isolated(self._get_one(w), [w]) for w in looking))
        finally:
            self._asking.difference_update(looking)

    async def _list(self, cursor: str, group: Iterable[Waiter]) -> Page | None:
        try:
            async with self._in_flight:
                body = await self.transport.send(page_request(cursor, self._filter_model))
            return parse_page(body)
        except (ApiframeValidationError, ApiframeNotFoundError) as error:
            self._list_refused(cursor, error)
        except ApiframeAuthError as error:
            if error.http_status == 403:
                # A key that may read its jobs but not list them: ask for each job alone.
                self._list_refused(TOP, error)
            else:
                for waiter in group:
                    waiter.answer(error)
        except ApiframeError as error:
            for waiter in group:
                waiter.answer(error)
        return None

    def _list_refused(self, cursor: str, error: ApiframeError) -> None:
        if cursor:
            # An expired or refused cursor: forget the positions and find the jobs again from the top.
            self._forget_positions()
        else:
            log.warning("GET /v2/jobs is not usable (%s); polling each job alone", error)
            self.list_supported = False

    def _take(self, page: Page, cursor: str) -> set[str]:
        """Answer the page's waiters that are due or done; return the ids of the jobs on the page."""
        # As of its answer: a read that waited for the budget or a slow API is as fresh as it came.
        now = time.time()
        self.page_fetched_at[cursor] = now
        for job in page.jobs:
            waiters = self.waiters.get(job.id)
            if not waiters:
                self._durations.learn(job)
            for waiter in waiters or ():
                # Answer the waiters that can stop waiting, and those due before the page is next worth a
                # read: their next due then counts from this answer, so that late jobs sharing a page
                # ask in step with its reads rather than each forcing a read of its own.
                if job.status.is_terminal or waiter.due <= now + self._until_next_read(waiter.page):
                    waiter.answer(job)
                waiter.page = cursor
                waiter.created_at = job.created_at
        return {job.id for job in page.jobs}

    def _until_next_read(self, page: str | None) -> float:
        """How long after a read of ``page`` the next one is worth it, for what its waiters are worth."""
        worth = self._worth.get(page, 0.0)
        return max(self.gap, 1 / worth) if worth else self.gap

    def _refilter(self) -> None:
        """Filter pages by model when every waiter's model is one and the same; positions then differ."""
        wanted = next(iter(self._models)) if len(self._models) == 1 else None
        if wanted != self._filter_model:
            self._filter_model = wanted
            self._forget_positions()

    def _forget_positions(self) -> None:
        self.page_fetched_at.clear()
        for waiter in self.all_waiters():
            waiter.page = None


def worth_delay(model: str | None) -> float:
    """
    How long after its submit a job's page starts to be worth reading for it: once the job may have ended.

    Where the model's durations are known, that is its earliest likely end: a page read sooner only says
    "still running" of every job on it. Where nothing is known, soon after the submit, when a reading of a
    new model's job starts to tell its pace and the first ends may come at any time.
    """
    shortest = history_for(model).shortest_likely(EARLY_SHARE)
    return FIRST_POLL_AFTER if shortest is None else shortest


_hubs: dict[tuple[asyncio.AbstractEventLoop, ClientSettings], StatusHub] = {}


@contextlib.asynccontextmanager
async def shared_hub(settings: ClientSettings) -> AsyncIterator[StatusHub]:
    """Lend the hub of this event loop for these settings, made on first use and closed after the last."""
    key = (asyncio.get_running_loop(), settings)
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = StatusHub(AsyncTransport(settings))
    hub.users += 1
    try:
        yield hub
    finally:
        hub.users -= 1
        if hub.users == 0:
            _hubs.pop(key, None)
            await hub.close()


def live_hubs() -> int:
    """How many hubs exist in this process (for leak checks)."""
    return len(_hubs)
