"""The job lifecycle, driven by the fake clock: statuses, fields, outcomes, expiry."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
import requests

JOB_FIELDS = {
    "id",
    "status",
    "model",
    "progress",
    "error",
    "creditCost",
    "webhookStatus",
    "createdAt",
    "completedAt",
    "result",
    "expired",
    "input",
}


def parse_time(text: str) -> float:
    assert text.endswith("Z")
    return datetime.fromisoformat(text).timestamp()


def test_submit_answers_202_with_a_uuid_and_queued(api):
    response = api.submit()
    assert response.status_code == 202
    answer = response.json()
    assert set(answer) == {"jobId", "status"} and answer["status"] == "QUEUED"
    assert str(uuid.UUID(answer["jobId"])) == answer["jobId"]


def test_job_goes_queued_then_processing_then_completed(api, server, clock):
    body = {"prompt": "koi", "model": "imagen-4", "imagenParams": {"aspect_ratio": "16:9"}}
    job_id = api.submit(body).json()["jobId"]
    created = clock.now

    queued = api.job(job_id)
    assert set(queued) == JOB_FIELDS
    assert (queued["status"], queued["progress"], queued["completedAt"]) == ("QUEUED", 0, None)
    assert queued["result"] is None
    assert (queued["id"], queued["model"], queued["creditCost"]) == (job_id, "imagen-4", 7)
    assert (queued["error"], queued["webhookStatus"], queued["expired"]) == (None, None, False)
    assert queued["input"] == body
    assert parse_time(queued["createdAt"]) == pytest.approx(created, abs=0.001)

    clock.now += 6  # of 10 s
    processing = api.job(job_id)
    assert processing["status"] == "PROCESSING" and 0 < processing["progress"] < 100
    clock.now += 2
    assert api.job(job_id)["progress"] > processing["progress"]

    clock.now += 2
    done = api.job(job_id)
    assert set(done) == JOB_FIELDS
    assert (done["status"], done["progress"], done["error"]) == ("COMPLETED", 100, None)
    assert done["expired"] is False
    assert parse_time(done["completedAt"]) == pytest.approx(created + 10, abs=0.001)
    [image_url] = done["result"]["images"]
    assert image_url == f"{server.url}/cdn/images/{job_id}-1.jpg"


def test_failed_job_says_why_and_gets_its_credits_back(api, server, clock):
    job_id = api.new_job(prompt="a koi [fail]")
    assert server.stats()["credits_balance"] == 993
    clock.now += 10
    # The refund is booked when the job ends, before anyone looks at it.
    assert server.stats()["credits_balance"] == 1000 and server.stats()["credits_charged"] == 0
    job = api.job(job_id)
    assert job["status"] == "FAILED" and isinstance(job["error"], str) and job["error"]
    assert job["completedAt"] is not None and job["result"] is None and job["creditCost"] == 7
    assert api.get("/v2/me").json()["team"]["credits"] == 1000


def test_cancelled_job_ends_cancelled_and_keeps_its_charge(api, server, clock):
    job_id = api.new_job(prompt="a koi [cancel]")
    clock.now += 10
    job = api.job(job_id)
    assert job["status"] == "CANCELLED" and job["completedAt"] is not None and job["result"] is None
    assert server.stats()["credits_balance"] == 993


def test_never_job_stays_processing(api, clock):
    job_id = api.new_job(prompt="a koi [never]")
    clock.now += 10 * 365 * 86400
    job = api.job(job_id)
    assert job["status"] == "PROCESSING" and job["completedAt"] is None and job["progress"] < 100


def test_completed_job_expires_after_retention_and_its_image_is_gone(apiframe_emulator_factory, clock):
    from tests.emulator.conftest import Api

    api = Api(apiframe_emulator_factory(clock=clock, job_duration=1.0, retention=3600))
    job_id = api.new_job()
    clock.now += 1
    [url] = api.job(job_id)["result"]["images"]
    assert requests.get(url, timeout=10).status_code == 200
    clock.now += 3599
    assert api.job(job_id)["expired"] is False
    clock.now += 1
    job = api.job(job_id)
    assert job["expired"] is True and job["status"] == "COMPLETED"
    gone = requests.get(url, timeout=10)
    assert gone.status_code == 404 and isinstance(gone.json()["error"], str)


def test_clock_control_endpoint_finishes_and_expires_jobs(apiframe_emulator):
    from tests.emulator.conftest import Api

    api = Api(apiframe_emulator)
    job_id = api.new_job()
    moved = requests.post(f"{api.url}/_emulator/clock", json={"advance": 86400 + 1}, timeout=10)
    assert moved.status_code == 200
    job = api.job(job_id)
    assert (job["status"], job["expired"]) == ("COMPLETED", True)
    backwards = requests.post(f"{api.url}/_emulator/clock", json={"advance": -5}, timeout=10)
    assert backwards.status_code == 400


def test_default_job_finishes_on_its_own_in_real_time(apiframe_emulator):
    """No fake clock: the 0.3 s job of the plugin's fixture completes after real waiting."""
    import time

    from tests.emulator.conftest import Api

    api = Api(apiframe_emulator)
    job_id = api.new_job()
    time.sleep(0.35)
    assert api.job(job_id)["status"] == "COMPLETED"


@pytest.mark.parametrize("bad_id", ["123", "not-a-uuid", "3f0c2a4e-0000-4000-8000-00000000000g"])
def test_job_id_that_is_not_a_uuid_is_400(api, bad_id):
    response = api.get(f"/v2/jobs/{bad_id}")
    assert response.status_code == 400 and isinstance(response.json()["error"], str)


def test_unknown_job_is_404(api):
    response = api.get(f"/v2/jobs/{uuid.uuid4()}")
    assert response.status_code == 404 and isinstance(response.json()["error"], str)
    assert api.server.stats()["polls"] == 1


def test_uppercase_uuid_finds_the_job(api):
    job_id = api.new_job()
    assert api.job(job_id.upper())["id"] == job_id
