"""Production's variety (job lengths, progress shapes, lost answers, outages) and GET /v2/jobs."""

from __future__ import annotations

import math
import statistics

import pytest
import requests

from airflow_provider_apiframe.emulator import EmulatorConfig
from airflow_provider_apiframe.emulator.progress import SHAPES, CoursePlanner, progress_value
from tests.emulator.conftest import Api


def durations(server, api, count):
    job_ids = [api.new_job(prompt=f"koi {i}") for i in range(count)]
    return [server.controls.state.jobs[job_id].duration for job_id in job_ids]


def test_job_lengths_are_lognormal_around_the_median_and_seeded(apiframe_emulator_factory, clock):
    server = apiframe_emulator_factory(
        clock=clock, job_duration=8.0, duration_sigma=0.4, seed=5, credits=9999
    )
    lengths = durations(server, Api(server), 300)
    logs = [math.log(d) for d in lengths]
    assert statistics.median(lengths) == pytest.approx(8.0, rel=0.1)
    assert statistics.stdev(logs) == pytest.approx(0.4, rel=0.15)
    again = apiframe_emulator_factory(clock=clock, job_duration=8.0, duration_sigma=0.4, seed=5, credits=9999)
    assert durations(again, Api(again), 300) == lengths


def test_a_wider_queued_share_is_drawn_over_its_whole_range(apiframe_emulator_factory, clock):
    def shares(**config):
        server = apiframe_emulator_factory(
            clock=clock, job_duration=8.0, duration_sigma=0.4, seed=5, credits=9999, **config
        )
        api = Api(server)
        return [server.controls.state.jobs[api.new_job(prompt=f"koi {i}")].queued_share for i in range(200)]

    default, wider = shares(), shares(queued_share_range=(0.05, 0.35))
    assert min(default) >= 0.1 and max(default) <= 0.3
    assert 0.05 <= min(wider) < 0.08 and 0.32 < max(wider) <= 0.35


def test_without_sigma_every_job_takes_the_same_time_and_a_marker_fixes_one(api, server):
    assert set(durations(server, api, 5)) == {10.0}
    job_id = api.new_job(prompt="koi [duration:3.5]")
    assert server.controls.state.jobs[job_id].duration == 3.5


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_is_monotone_capped_at_99_and_ends_at_100_or_null(
    apiframe_emulator_factory, clock, shape
):
    server = apiframe_emulator_factory(clock=clock, job_duration=10.0, progress_shape=shape)
    api = Api(server)
    job_id = api.new_job()
    seen = []
    for _ in range(60):
        job = api.job(job_id)
        if job["status"] == "COMPLETED":
            break
        seen.append(job["progress"])
        server.advance_clock(0.25)
    assert job["status"] == "COMPLETED"
    if shape == "none":
        assert seen and all(p is None for p in seen) and job["progress"] is None
        return
    assert all(0 <= p <= 99 for p in seen) and seen == sorted(seen)
    assert job["progress"] == 100


def test_shapes_differ_where_production_differs():
    assert progress_value("front", 0.3) > progress_value("linear", 0.3) > progress_value("back", 0.3)
    assert {progress_value("steps", x / 100) for x in range(100)} == {0, 25, 50, 75}
    assert progress_value("stall", 0.5) == progress_value("stall", 0.95) == 99


def test_mixed_draws_several_shapes_and_a_marker_chooses_one():
    planner = CoursePlanner(8.0, 0.4, "mixed", seed=1)
    assert len({planner.plan("koi").shape for _ in range(60)}) >= 4
    assert planner.plan("koi [progress:steps]").shape == "steps"


@pytest.mark.parametrize(
    "bad",
    [
        {"progress_shape": "zigzag"},
        {"duration_sigma": -1},
        {"outage_every": 10},
        {"outage_every": 2, "outage_length": 3},
        {"lose_submit_answer_every": -1},
        {"queued_share_range": (0.3, 0.1)},
        {"queued_share_range": (0.1, 1.0)},
    ],
)
def test_bad_variety_settings_are_refused(bad):
    with pytest.raises(ValueError):
        EmulatorConfig(**bad)


def test_every_nth_submit_answer_is_lost_after_the_job_exists(apiframe_emulator_factory):
    server = apiframe_emulator_factory(lose_submit_answer_every=2)
    api = Api(server)
    assert api.submit(idempotency_key="a").status_code == 202
    with pytest.raises(requests.ConnectionError):
        api.submit(idempotency_key="b")
    # The lost answer's job exists: the replay finds it (and is the third accepted, answered).
    assert api.submit(idempotency_key="b").status_code == 202
    stats = server.stats()
    assert stats["jobs_created"] == 2 and stats["idempotent_replays"] == 1
    assert stats["dropped_connections"] == 1


def test_outages_answer_503_to_everything_for_their_length(apiframe_emulator_factory, clock):
    server = apiframe_emulator_factory(clock=clock, outage_every=10.0, outage_length=2.0, seed=4)
    api = Api(server)
    codes = []
    for _ in range(40):
        codes.append(api.get("/v2/me").status_code)
        server.advance_clock(0.5)
    assert set(codes) == {200, 503}
    assert codes.count(503) == 8  # 2 s of every 10 s, over 20 s, sampled every 0.5 s


# --- GET /v2/jobs ---------------------------------------------------------------------------------


def test_pages_are_newest_first_with_a_cursor_that_survives_new_jobs(api, server):
    job_ids = []
    for i in range(5):
        job_ids.append(api.new_job(prompt=f"koi {i}"))
        server.advance_clock(0.001)
    first = api.get("/v2/jobs?limit=2").json()
    assert [j["id"] for j in first["jobs"]] == job_ids[::-1][:2]
    assert first["hasMore"] is True and first["nextCursor"]
    newer = api.new_job(prompt="newer")  # created between two pages: must not shift the next one
    second = api.get(f"/v2/jobs?limit=2&cursor={first['nextCursor']}").json()
    assert [j["id"] for j in second["jobs"]] == job_ids[::-1][2:4]
    last = api.get(f"/v2/jobs?limit=2&cursor={second['nextCursor']}").json()
    assert [j["id"] for j in last["jobs"]] == [job_ids[0]]
    assert last["hasMore"] is False and last["nextCursor"] is None
    assert api.get("/v2/jobs?limit=1").json()["jobs"][0]["id"] == newer


def test_equal_creation_times_are_ordered_by_id_descending(api):
    job_ids = [api.new_job(prompt=f"koi {i}") for i in range(4)]  # the fake clock stands still
    listed = [j["id"] for j in api.get("/v2/jobs").json()["jobs"]]
    assert listed == sorted(job_ids, reverse=True)


def test_a_listed_job_is_the_same_json_as_get_by_id(api, server):
    job_id = api.new_job()
    server.advance_clock(11)
    [listed] = api.get("/v2/jobs").json()["jobs"]
    assert listed == api.job(job_id)
    assert listed["result"]["images"]


def test_filters_status_model_and_search(api, server):
    done = api.new_job()
    server.advance_clock(11)
    running = api.new_job(model="imagen-4-fast")
    assert [j["id"] for j in api.get("/v2/jobs?status=COMPLETED").json()["jobs"]] == [done]
    assert [j["id"] for j in api.get("/v2/jobs?status=QUEUED").json()["jobs"]] == [running]
    assert [j["id"] for j in api.get("/v2/jobs?model=imagen-4-fast").json()["jobs"]] == [running]
    assert [j["id"] for j in api.get(f"/v2/jobs?search={done}").json()["jobs"]] == [done]
    answer = api.get("/v2/jobs?include_models=true&scope=team").json()
    assert answer["models"] == ["imagen-4", "imagen-4-fast"] and len(answer["jobs"]) == 2
    assert "models" not in api.get("/v2/jobs").json()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=2.5", "limit"),
        ("limit=many", "limit"),
        ("status=DONE", "status"),
        ("scope=world", "scope"),
        ("search=not-a-uuid", "search"),
        ("include_models=yes", "include_models"),
        ("cursor=%%%", "cursor"),
        ("cursor=bm90IGpzb24", "cursor"),
    ],
)
def test_an_invalid_query_or_cursor_is_a_400_naming_the_parameter(api, query, field):
    response = api.get(f"/v2/jobs?{query}")
    assert response.status_code == 400
    body = response.json()
    assert isinstance(body["error"], str) and field in body["details"]


def test_listing_needs_a_key_and_counts_against_the_rate_limit(apiframe_emulator_factory):
    server = apiframe_emulator_factory(rate_limit_per_minute=3)
    api = Api(server)
    assert api.get("/v2/jobs", headers={}).status_code == 401
    assert [api.get("/v2/jobs").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert server.stats()["list_requests"] == 3


def test_stats_count_requests_per_key_digest(apiframe_emulator_factory):
    import hashlib

    server = apiframe_emulator_factory(api_keys=("afk_one_key_x", "afk_two_key_y"))
    api = Api(server)
    api.get("/v2/me")
    api.get("/v2/me", headers={"X-API-Key": "afk_two_key_y"})
    api.get("/v2/me", headers={"X-API-Key": "afk_two_key_y"})
    counts = server.stats()["requests_by_key"]
    assert counts == {
        hashlib.sha256(b"afk_one_key_x").hexdigest()[:12]: 1,
        hashlib.sha256(b"afk_two_key_y").hexdigest()[:12]: 2,
    }


def test_paging_through_hundreds_of_jobs_yields_each_once(apiframe_emulator_factory):
    server = apiframe_emulator_factory(credits=10_000)
    api = Api(server)
    job_ids = {api.new_job(prompt=f"koi {i}", model="imagen-4-fast") for i in range(250)}
    cursor, seen = "", []
    while True:
        page = api.get(f"/v2/jobs?limit=100{'&cursor=' + cursor if cursor else ''}").json()
        seen += [job["id"] for job in page["jobs"]]
        if not page["hasMore"]:
            break
        cursor = page["nextCursor"]
    assert len(seen) == 250 and set(seen) == job_ids
