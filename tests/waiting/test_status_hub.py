"""Many triggers in one event loop: one stream of list pages, their own events, nothing left behind."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_apiframe.exceptions import ApiframeTransientError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.triggers.apiframe import ApiframeJobTrigger
from airflow_provider_apiframe.waiting import status_hub
from airflow_provider_apiframe.wire.jobs import Job
from airflow_provider_apiframe.wire.transport import ApiRequest
from tests.conftest import TEST_KEY, connection_uri


@pytest.fixture
def server(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(
        api_keys=(TEST_KEY,), job_duration=3.0, duration_sigma=0.5, progress_shape="mixed", seed=3
    )
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    return server


def submit(prompts):
    hook = ApiframeHook()
    return [
        hook.submit_generation("imagen-4", prompt, {}, idempotency_key=f"hub-{prompt}") for prompt in prompts
    ]


def trigger(job_id, timeout=30.0):
    now = time.time()
    return ApiframeJobTrigger(job_id, "apiframe_default", 5.0, now + timeout, now, model="imagen-4")


async def first_event(t):
    async for event in t.run():
        return event.payload
    raise AssertionError("no event")


def hub_tasks():
    return [t for t in asyncio.all_tasks() if t.get_name() == "apiframe-status-hub"]


def test_many_triggers_are_answered_from_list_pages_each_with_its_own_event(server):
    job_ids = submit([f"koi {i}" for i in range(40)])
    before = server.stats()

    async def wait_all():
        return await asyncio.gather(*(first_event(trigger(job_id)) for job_id in job_ids))

    events = asyncio.run(wait_all())
    after = server.stats()
    assert [e["job_id"] for e in events] == job_ids
    assert all(e["status"] == "success" and e["images"] for e in events)
    lists = after["list_requests"] - before["list_requests"]
    singles = after["polls"] - before["polls"]
    assert lists >= 1
    # Forty jobs waited for with fewer requests than jobs: a page answers for many of them at once,
    # and a job is asked about alone only once it is the last one left.
    assert lists + singles < len(job_ids)
    assert singles <= 10
    assert status_hub.live_hubs() == 0


def test_a_job_no_page_shows_is_asked_about_alone(server):
    [known] = submit(["heron"])
    unknown = "00000000-0000-4000-8000-000000000000"

    async def wait_both():
        return await asyncio.gather(first_event(trigger(known)), first_event(trigger(unknown)))

    found, missing = asyncio.run(wait_both())
    assert found["status"] == "success"
    assert missing["status"] == "error" and missing["reason"] == "not_found"


def test_cancelled_triggers_leave_no_hub_task_session_or_waiter(server):
    job_ids = submit([f"lotus [never] {i}" for i in range(12)])
    seen = {}

    async def cancel_midway():
        tasks = [asyncio.ensure_future(first_event(trigger(job_id))) for job_id in job_ids]
        await asyncio.sleep(2.5)
        [hub] = status_hub._hubs.values()
        seen["waiters"] = len(hub.waiters)
        seen["hub"] = hub
        for task in tasks[:6]:
            task.cancel()  # as the triggerer does when a trigger moves to another triggerer
        await asyncio.sleep(0.1)
        seen["waiters_after_half"] = len(hub.waiters)
        for task in tasks[6:]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        seen["tasks_left"] = len(hub_tasks())

    asyncio.run(cancel_midway())
    assert seen["waiters"] == 12 and seen["waiters_after_half"] == 6
    assert seen["tasks_left"] == 0 and status_hub.live_hubs() == 0
    assert seen["hub"].transport._session is None  # its HTTP session was closed


def test_two_waiters_for_one_job_each_get_the_event(server):
    # An operator's trigger and a sensor on the same job, say; and a trigger rebuilt from its kwargs.
    [job_id] = submit(["egret"])
    original = trigger(job_id)
    rebuilt = ApiframeJobTrigger(**original.serialize()[1])

    async def both():
        return await asyncio.gather(first_event(original), first_event(rebuilt))

    events = asyncio.run(both())
    assert [e["status"] for e in events] == ["success", "success"]
    assert events[0]["images"] == events[1]["images"]
    assert status_hub.live_hubs() == 0


def test_a_page_fetched_for_one_waiter_keeps_the_place_of_the_others_on_it(server):
    first, second = submit(["ibis", "crane"])

    async def scenario():
        settings = await ApiframeHook().async_settings()
        async with (
            status_hub.shared_hub(settings) as hub,
            hub.watch(first, created_hint=time.time()) as soon,
            hub.watch(second, created_hint=time.time()) as later,
        ):
            waiting = asyncio.ensure_future(later.next(time.time() + 60))
            await soon.next(time.time())  # found by a sweep from the newest page
            await soon.next(time.time())  # its page again, fetched with the other waiter on it
            [other] = hub.waiters[second]
            place = (other.page, other.unlisted)
            waiting.cancel()
        return place

    assert asyncio.run(scenario()) == (status_hub.TOP, False)
    assert server.stats()["polls"] == 0  # nobody was asked about alone


def test_a_trigger_alone_new_to_the_model_learns_its_durations_from_a_page_for_no_extra_request(
    apiframe_emulator_factory, monkeypatch
):
    from airflow_provider_apiframe.waiting.durations import history_for

    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=0.3)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    earlier = submit([f"earlier {i}" for i in range(6)])
    time.sleep(1.0)
    [job_id] = submit(["koi"])
    before = server.stats()
    event = asyncio.run(first_event(trigger(job_id)))
    after = server.stats()
    assert event["status"] == "success" and len(earlier) == 6
    assert (after["list_requests"] - before["list_requests"], after["polls"] - before["polls"]) == (1, 0)
    assert history_for("imagen-4").known_durations == 7


def test_a_trigger_alone_polls_by_id_at_its_own_pace_once_a_page_taught_its_model(
    apiframe_emulator_factory, monkeypatch
):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=0.3)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    submit([f"earlier {i}" for i in range(6)])
    time.sleep(1.0)
    [job_id] = submit(["koi [duration:12]"])
    before = server.stats()
    event = asyncio.run(first_event(trigger(job_id)))
    after = server.stats()
    assert event["status"] == "success"
    # The first poll read a page (and learned six durations); the rest went by id, each when the wait
    # asked for it, not at once because a page had been fetched long before.
    assert after["list_requests"] - before["list_requests"] == 1
    assert 1 <= after["polls"] - before["polls"] <= 8


def test_a_failure_no_typed_error_foresaw_costs_only_the_waiters_it_concerns(server, monkeypatch):
    [job_id] = submit(["ibis"])
    stranger = "00000000-0000-4000-8000-000000000000"  # on no page: asked about alone
    real_job_request = status_hub.job_request

    def job_request(asked: str) -> ApiRequest:
        if asked == stranger:
            raise RuntimeError("a flaw no typed error foresaw")
        return real_job_request(asked)

    monkeypatch.setattr(status_hub, "job_request", job_request)

    async def scenario():
        settings = await ApiframeHook().async_settings()
        async with (
            status_hub.shared_hub(settings) as hub,
            hub.watch(job_id, created_hint=time.time()) as known,
            hub.watch(stranger, created_hint=time.time()) as unknown,
        ):
            # Placed: the job on the newest page, the stranger alone.
            await asyncio.gather(known.next(time.time()), unknown.next(time.time()))
            await asyncio.sleep(status_hub.PAGE_GAP)
            server.add_faults({"method": "GET", "path": "/v2/jobs", "action": "delay", "delay": 1.0})
            # One round: the page, slow to come, and the stranger's request, failing at once.
            return await asyncio.gather(known.next(time.time()), unknown.next(time.time()))

    seen, failed = asyncio.run(scenario())
    assert isinstance(seen, Job) and seen.id == job_id
    assert isinstance(failed, ApiframeTransientError) and "a flaw no typed error foresaw" in str(failed)
    assert status_hub.live_hubs() == 0


def test_waiters_that_share_pages_hear_of_their_ends_long_before_their_own_schedules_ask(server):
    job_ids = submit(["heron [duration:1]", "stork [duration:1]"])

    async def scenario():
        settings = await ApiframeHook().async_settings()
        async with status_hub.shared_hub(settings) as hub:

            async def wait(job_id):
                async with hub.watch(job_id, created_hint=time.time() - 5) as news:
                    due = time.time() + 120  # a schedule that knows nothing: ask again in two minutes
                    while True:
                        outcome = await news.next(due)
                        if isinstance(outcome, Job) and outcome.status.is_terminal:
                            return outcome, due - time.time()
                        due = time.time() + 120

            return await asyncio.gather(*(wait(job_id) for job_id in job_ids))

    for job, left_of_due in asyncio.run(scenario()):
        assert job.status.value == "COMPLETED"
        # Two waiters are worth a page read every couple of seconds: nowhere near their due times.
        assert left_of_due > 100
    assert status_hub.live_hubs() == 0


def test_page_reads_wait_for_the_sends_already_booked_on_the_budget(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=0.5)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url, rate_limit_per_minute=60))
    job_ids = submit(["ibis", "crane"])

    async def scenario():
        settings = await ApiframeHook().async_settings()
        budget = settings.budget()
        for _ in range(8):  # a batch's submits, queued on the budget the hub's transport books with
            budget.book()
        queued = budget.headroom().wait
        async with (
            status_hub.shared_hub(settings) as hub,
            hub.watch(job_ids[0], created_hint=time.time() - 5) as first,
            hub.watch(job_ids[1], created_hint=time.time() - 5) as second,
        ):
            answers = asyncio.gather(first.next(time.time()), second.next(time.time()))
            await asyncio.sleep(1.0)
            # The hub booked nothing behind the submits: the next submit's turn is a second nearer.
            left = budget.headroom().wait
            return queued, left, await answers

    queued, left, answers = asyncio.run(scenario())
    assert queued > 3.0
    assert left == pytest.approx(queued - 1.0, abs=0.3)
    assert all(isinstance(answer, Job) and answer.id in job_ids for answer in answers)


def test_jobs_spread_among_other_processes_jobs_are_found_on_pages_not_asked_alone(
    apiframe_emulator_factory, monkeypatch
):
    """
    Another triggerer or worker on the key submits between ours: our jobs sit one in four on the pages.
    Reading further pages is cheaper than asking each job alone as long as fewer pages are read than
    jobs are missing.
    """
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=3.0, credits=100_000)
    # Unpaced: 240 submits in a moment rather than half a minute of the default budget.
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url, rate_limit_per_minute=0))
    ours = []
    for number in range(60):
        ours += submit([f"ours {number}"])
        submit([f"theirs {number} {copy}" for copy in range(3)])
    server.advance_clock(60)  # every job has ended
    before = server.stats()

    async def wait_ours():
        return await asyncio.gather(*(first_event(trigger(job_id)) for job_id in ours))

    events = asyncio.run(wait_ours())
    after = server.stats()
    assert all(event["status"] == "success" for event in events)
    # 240 jobs on pages of 100: three pages answer for all 60 of ours.
    assert after["polls"] - before["polls"] == 0
    assert after["list_requests"] - before["list_requests"] <= 4
