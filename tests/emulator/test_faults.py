"""Scripted and random fault injection, as real HTTP clients see it."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import requests

from airflow_provider_apiframe.emulator.config import DEFAULT_API_KEY
from tests.emulator.conftest import Api

BODY = {"prompt": "koi", "model": "imagen-4"}


def test_status_rule_answers_json_errors_then_is_spent(api, server):
    server.add_faults(
        {"method": "POST", "path": "/v2/images/generate", "action": "status", "status": 503, "times": 2}
    )
    for _ in range(2):
        response = api.submit()
        assert response.status_code == 503 and isinstance(response.json()["error"], str)
    assert api.submit().status_code == 202
    stats = server.stats()
    assert stats["responses_by_status"] == {"503": 2, "202": 1}
    # The faulted requests never reached the handler.
    assert (stats["submits"], stats["jobs_created"]) == (1, 1)


def test_429_rule_sets_retry_after(api, server):
    server.add_faults(
        {"method": "GET", "path": "/v2/me", "action": "status", "status": 429, "retry_after": 2}
    )
    response = api.get("/v2/me")
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert isinstance(response.json()["error"], str)
    assert api.get("/v2/me").status_code == 200


def test_rules_match_method_and_path_prefix(api, server):
    job_id = api.new_job()
    server.add_faults({"method": "GET", "path": "/v2/jobs/", "action": "status", "status": 500, "times": 2})
    assert api.get("/v2/me").status_code == 200
    assert api.submit().status_code == 202
    assert api.get(f"/v2/jobs/{job_id}").status_code == 500
    assert api.get("/v2/jobs/00000000-0000-4000-8000-000000000000").status_code == 500
    assert api.get(f"/v2/jobs/{job_id}").status_code == 200


def test_drop_before_is_a_connection_error_and_nothing_happens(api, server):
    server.add_faults({"method": "POST", "path": "/v2/images/generate", "action": "drop_before"})
    with pytest.raises(requests.ConnectionError):
        api.submit(idempotency_key="k")
    stats = server.stats()
    assert (stats["submits"], stats["jobs_created"], stats["credits_charged"]) == (0, 0, 0)
    assert (stats["dropped_connections"], stats["responses_by_status"]) == (1, {})


def test_drop_after_creates_and_charges_the_job_then_a_retry_with_the_key_gets_it(api, server):
    server.add_faults({"method": "POST", "path": "/v2/images/generate", "action": "drop_after"})
    with pytest.raises(requests.ConnectionError):
        api.submit(idempotency_key="k")
    stats = server.stats()
    assert (stats["submits"], stats["jobs_created"], stats["credits_charged"]) == (1, 1, 7)
    assert stats["dropped_connections"] == 1

    retry = api.submit(idempotency_key="k")
    assert retry.status_code == 202
    stats = server.stats()
    assert (stats["jobs_created"], stats["idempotent_replays"], stats["credits_charged"]) == (1, 1, 7)


@pytest.mark.parametrize("action", ["drop_before", "drop_after"])
async def test_aiohttp_client_sees_a_dropped_post_as_a_disconnect(api, server, action):
    server.add_faults({"method": "POST", "path": "/v2/images/generate", "action": action})
    async with aiohttp.ClientSession(headers=api.headers()) as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with session.post(f"{api.url}/v2/images/generate", json=BODY):
                pass
    assert server.stats()["jobs_created"] == (1 if action == "drop_after" else 0)


async def test_aiohttp_client_retries_a_dropped_get_once_by_itself(api, server):
    """aiohttp resends an idempotent request once after a disconnect: a GET needs two drops to fail."""
    server.add_faults({"method": "GET", "path": "/v2/me", "action": "drop_before", "times": 3})
    async with aiohttp.ClientSession(headers=api.headers()) as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with session.get(f"{api.url}/v2/me"):
                pass
        async with session.get(f"{api.url}/v2/me") as response:  # third drop, then the retry passes
            assert response.status == 200
    assert server.stats()["dropped_connections"] == 3


def test_malformed_rule_answers_an_html_page_without_handling(api, server):
    server.add_faults({"method": "POST", "path": "/v2/images/generate", "action": "malformed"})
    response = api.submit()
    assert response.status_code == 502 and response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()
    assert server.stats()["jobs_created"] == 0


def test_malformed_rule_with_a_success_status_truncates_the_real_answer(api, server):
    server.add_faults({"method": "POST", "path": "/v2/images/generate", "action": "malformed", "status": 200})
    response = api.submit()
    assert response.status_code == 202 and response.headers["Content-Type"].startswith("application/json")
    assert response.text.startswith('{"jobId": "')
    with pytest.raises(ValueError):
        response.json()
    assert server.stats()["jobs_created"] == 1


def test_delay_rule_slows_the_answer_down(api, server):
    server.add_faults({"method": "*", "path": "/v2/me", "action": "delay", "delay": 0.3})
    started = time.monotonic()
    assert api.get("/v2/me").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.get("/v2/me")
    assert time.monotonic() - started < 0.3


def test_delay_after_holds_the_answer_of_a_request_that_already_took_effect(api, server):
    """A client that gives up while the answer is held has lost it: the job exists and is paid for."""
    held = {"method": "POST", "path": "/v2/images/generate", "action": "delay_after", "delay": 30.0}
    server.add_faults(held)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{api.url}/v2/images/generate", json=BODY, headers=api.headers(), timeout=0.3)
    stats = server.stats()
    assert (stats["submits"], stats["jobs_created"], stats["credits_charged"]) == (1, 1, 7)
    # The client has gone: the answer is not held for the rest of the 30 s (it is counted once released).
    while server.stats()["responses_by_status"].get("202") != 1:
        assert time.monotonic() - started < 5, "the answer is still held for a client that has gone"
        time.sleep(0.05)
    # A client that waits gets the real answer, late; the rule is spent after it.
    server.add_faults({**held, "delay": 0.5})
    started = time.monotonic()
    assert api.submit().status_code == 202
    assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    assert api.submit().status_code == 202
    assert time.monotonic() - started < 0.5
    assert server.stats()["jobs_created"] == 3


def test_rules_can_be_added_over_http_and_bad_ones_are_refused(api, server):
    rule = {"method": "GET", "path": "/v2/me", "action": "status", "status": 502}
    added = requests.post(f"{api.url}/_emulator/faults", json={"rules": [rule]}, timeout=10)
    assert added.status_code == 200
    assert api.get("/v2/me").status_code == 502
    for bad in (
        {"action": "explode"},
        {"action": "status", "status": 42},
        {"action": "drop_before", "oops": 1},
    ):
        refused = requests.post(f"{api.url}/_emulator/faults", json={"rules": [bad]}, timeout=10)
        assert refused.status_code == 400 and isinstance(refused.json()["error"], str)
    assert requests.post(f"{api.url}/_emulator/faults", json={"rules": "x"}, timeout=10).status_code == 400
    assert api.get("/v2/me").status_code == 200


def test_control_endpoints_are_never_faulted(api, server):
    server.add_faults({"method": "*", "path": "/", "action": "status", "status": 503, "times": 5})
    assert requests.get(f"{api.url}/_emulator/stats", timeout=10).status_code == 200
    assert api.get("/v2/me").status_code == 503


def outcomes(url: str, count: int) -> list[str]:
    """What each of ``count`` fresh GET /v2/me requests met."""
    seen = []
    for _ in range(count):
        try:
            response = requests.get(f"{url}/v2/me", headers={"X-API-Key": DEFAULT_API_KEY}, timeout=10)
        except requests.ConnectionError:
            seen.append("dropped")
            continue
        try:
            body = response.json()
        except ValueError:
            seen.append("malformed")
            continue
        assert response.status_code == 200 or isinstance(body["error"], str)
        seen.append("ok" if response.status_code == 200 else f"error {response.status_code}")
    return seen


def test_random_faults_follow_the_seed(apiframe_emulator_factory):
    rates = {"error_rate": 0.3, "drop_rate": 0.2, "malformed_rate": 0.2, "seed": 1234}
    first = apiframe_emulator_factory(**rates)
    seen = outcomes(first.url, 40)
    assert outcomes(apiframe_emulator_factory(**rates).url, 40) == seen
    kinds = {outcome.split()[0] for outcome in seen}
    assert kinds == {"ok", "error", "dropped", "malformed"}
    assert {outcome for outcome in seen if outcome.startswith("error")} <= {
        "error 500",
        "error 502",
        "error 503",
    }
    stats = first.stats()
    assert stats["dropped_connections"] == seen.count("dropped")
    assert sum(stats["responses_by_status"].values()) == 40 - seen.count("dropped")
    # A different seed gives a different sequence.
    assert outcomes(apiframe_emulator_factory(**{**rates, "seed": 99}).url, 40) != seen


def test_random_faults_spare_the_cdn_and_controls(apiframe_emulator_factory):
    server = apiframe_emulator_factory(error_rate=1.0)
    assert requests.get(f"{server.url}/_emulator/stats", timeout=10).status_code == 200
    assert requests.get(f"{server.url}/cdn/images/x", timeout=10).status_code == 404
    assert requests.get(f"{server.url}/v2/models", timeout=10).status_code in (500, 502, 503)


def test_latency_is_added_to_api_answers(apiframe_emulator_factory):
    server = apiframe_emulator_factory(latency=0.25)
    started = time.monotonic()
    assert requests.get(f"{server.url}/v2/models", timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.25


def test_rate_limit_counts_submits_and_polls_per_key(apiframe_emulator_factory, clock):
    server = apiframe_emulator_factory(
        clock=clock, rate_limit_per_minute=3, api_keys=("afk_one_key_0001", "afk_two_key_0002")
    )
    api = Api(server)
    job_id = api.new_job()  # t=0
    clock.now += 10
    assert api.get(f"/v2/jobs/{job_id}").status_code == 200  # t=10
    clock.now += 10
    assert api.get("/v2/me").status_code == 200  # t=20
    clock.now += 5
    limited = api.submit()  # t=25: the t=0 slot frees at t=60
    assert limited.status_code == 429
    assert limited.json() == {"error": "Rate limit exceeded"}
    assert limited.headers["Retry-After"] == "35"
    # Other keys have their own window; the public catalogue is not counted.
    assert api.get("/v2/me", headers={"X-API-Key": "afk_two_key_0002"}).status_code == 200
    assert requests.get(f"{api.url}/v2/models", timeout=10).status_code == 200
    clock.now += 35
    assert api.submit().status_code == 202
    assert server.stats()["jobs_created"] == 2 and server.stats()["responses_by_status"]["429"] == 1


def test_rate_limit_can_say_retry_after_as_an_http_date(apiframe_emulator_factory, clock):
    from email.utils import parsedate_to_datetime

    server = apiframe_emulator_factory(clock=clock, rate_limit_per_minute=1, retry_after_format="http-date")
    api = Api(server)
    assert api.get("/v2/me").status_code == 200
    clock.now += 20.5
    limited = api.get("/v2/me")
    assert limited.status_code == 429
    # 39.5 s to wait, rounded up so the client is never early.
    assert parsedate_to_datetime(limited.headers["Retry-After"]).timestamp() == int(clock.now) + 40


def test_concurrent_requests_are_all_answered(api, server):
    """The emulator serves many clients at once (the CDN renders off the event loop)."""

    async def burst() -> list[int]:
        async with aiohttp.ClientSession(headers=api.headers()) as session:

            async def one() -> int:
                async with session.post(f"{api.url}/v2/images/generate", json=BODY) as r:
                    return r.status

            return await asyncio.gather(*(one() for _ in range(20)))

    assert asyncio.run(burst()) == [202] * 20
    assert server.stats()["jobs_created"] == 20
