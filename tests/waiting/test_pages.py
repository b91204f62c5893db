"""
``GET /v2/jobs`` pages as a buggy or hostile API could write them: a bad item costs only itself.

The HTTP tests put a proxy in front of the emulator that adds bad items to every page it lists, and wait
for good jobs through it as the triggerer (the status hub) and a worker (the blocking wait) do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator

import pytest

from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.waiting import history_file
from airflow_provider_apiframe.waiting import pages as job_pages
from airflow_provider_apiframe.waiting.pages import parse_page
from tests.conftest import TEST_KEY, connection_uri
from tests.storage.servers import Server, forward_to, serve
from tests.waiting.test_status_hub import first_event, submit, trigger

FINISHED = '"status": "COMPLETED", "createdAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:09Z"'


def item(last: str, fields: str) -> str:
    """A job of the list as JSON text, its id ending in ``last``."""
    return f'{{"id": "00000000-0000-4000-8000-00000000000{last}", {fields}}}'


# JSON text, not Python values: 1e400 and NaN are what the json module reads as inf and nan.
BAD_ITEMS = {
    "infinite-progress": item("a", '"status": "PROCESSING", "progress": 1e400'),
    "nan-progress": item("b", '"status": "PROCESSING", "progress": NaN'),
    # Finished and waited for by nobody: its duration is learned, which looks up its model's history file.
    "300-char-model": item("c", f'"model": "{"m" * 300}", {FINISHED}'),
    "year-99999": item(
        "d", '"status": "COMPLETED", "createdAt": "+99999-01-01T00:00:00Z", "completedAt": 1e400'
    ),
    "not-an-object": '"00000000-0000-4000-8000-00000000000e"',
    "no-status": item("f", '"status": null'),
}
GOOD = item("1", f'"model": "imagen-4", {FINISHED}')


def page_of(*items: str) -> dict:
    return json.loads(f'{{"jobs": [{", ".join(items)}], "nextCursor": null, "hasMore": false}}')


def test_a_page_keeps_its_good_jobs_and_logs_its_bad_items_once(caplog):
    with caplog.at_level(logging.WARNING, logger=job_pages.__name__):
        page = parse_page(page_of(*BAD_ITEMS.values(), GOOD))
    # The garbled optional fields read as unknown; the items without an id or status are left out.
    assert [job.id[-1] for job in page.jobs] == ["a", "b", "c", "d", "1"]
    assert [job.progress for job in page.jobs[:2]] == [None, None]
    assert page.jobs[3].created_at is None and page.jobs[3].completed_at is None
    [record] = caplog.records
    assert "Left out 2 of the 7 items" in record.getMessage()


def test_a_page_survives_an_item_that_raises_anything(monkeypatch, caplog):
    def parse_job(item: dict):
        if item["id"].endswith("1"):
            raise RuntimeError("a flaw no typed error foresaw")
        return real_parse_job(item)

    real_parse_job = job_pages.parse_job
    monkeypatch.setattr(job_pages, "parse_job", parse_job)
    page = parse_page(page_of(GOOD, item("2", f'"model": "imagen-4", {FINISHED}')))
    assert [job.id[-1] for job in page.jobs] == ["2"]
    assert "RuntimeError: a flaw no typed error foresaw" in caplog.text


def with_items(items: list[str]) -> Callable[[str, bytes], bytes]:
    """A proxy's rewrite that puts ``items`` (JSON text) first on every page the emulator lists."""

    def rewrite(path: str, body: bytes) -> bytes:
        page = json.loads(body) if path.startswith("/v2/jobs?") else None
        if not isinstance(page, dict) or not isinstance(page.get("jobs"), list):
            return body
        listed = ", ".join([*items, *(json.dumps(job) for job in page["jobs"])])
        return json.dumps({**page, "jobs": "JOBS"}).replace('"JOBS"', f"[{listed}]").encode()

    return rewrite


@pytest.fixture
def hostile_api(request, apiframe_emulator_factory, monkeypatch, tmp_path) -> Iterator[Server]:
    """The emulator behind a proxy that adds the bad items ``request.param`` to every page."""
    emulator = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=1.5, duration_sigma=0.3)
    # History files kept: the lookup of the 300-character model's file once raised out of every wait.
    monkeypatch.setenv(history_file.HISTORY_DIR_ENV, str(tmp_path))
    with serve(forward_to(emulator.url, with_items(request.param))) as proxy:
        monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(proxy.url))
        yield proxy


def pages_listed(proxy: Server) -> int:
    return sum(path.startswith("/v2/jobs?") for _, path, _ in proxy.requests)


# All on one page: any one of them that broke a round would fail every waiter (as each once did).
@pytest.mark.parametrize("hostile_api", [list(BAD_ITEMS.values())], indirect=True, ids=["all-bad-items"])
def test_a_bad_job_on_a_page_costs_the_waiters_of_good_jobs_nothing(hostile_api, caplog):
    job_ids = submit([f"koi {i}" for i in range(3)])

    async def wait_all() -> list[dict]:
        return await asyncio.gather(*(first_event(trigger(job_id, timeout=20.0)) for job_id in job_ids))

    with caplog.at_level(logging.WARNING):
        events = asyncio.run(wait_all())
    assert [event["status"] for event in events] == ["success"] * 3
    assert pages_listed(hostile_api) >= 1
    # At their own pace: no waiter was answered with an error and had to poll again.
    assert "will poll again" not in caplog.text and "status hub failed" not in caplog.text
    left_out = [r for r in caplog.records if r.getMessage().startswith("Left out")]
    assert len(left_out) <= pages_listed(hostile_api)  # once a page, not once an item


@pytest.mark.parametrize("hostile_api", [list(BAD_ITEMS.values())], indirect=True, ids=["all-bad-items"])
def test_a_blocking_wait_reads_past_bad_jobs_on_its_page(hostile_api):
    [job_id] = submit(["heron"])
    now = time.time()
    event = ApiframeHook().wait_for_job(
        job_id, poll_interval=5.0, deadline=now + 20.0, submitted_at=now, model="imagen-4"
    )
    assert event["status"] == "success" and event["images"]
    assert pages_listed(hostile_api) >= 1
