from __future__ import annotations

import pytest

from airflow_provider_apiframe.exceptions import ApiframeUnexpectedResponseError
from airflow_provider_apiframe.jobs import JobStatus, parse_job, parse_submitted

JOB = {
    "id": "3f0c2a4e-0000-4000-8000-000000000001",
    "status": "COMPLETED",
    "model": "imagen-4",
    "progress": 100,
    "error": None,
    "creditCost": 7,
    "webhookStatus": None,
    "createdAt": "2026-11-24T01:35:22Z",
    "completedAt": "2026-11-24T01:35:31Z",
    "result": {"images": ["https://cdn/x-1.png"]},
    "expired": False,
}


def test_contract_job_is_read_in_full():
    job = parse_job(JOB)
    assert job.status is JobStatus.COMPLETED and job.status.is_terminal
    assert job.images == ["https://cdn/x-1.png"] and job.credit_cost == 7 and job.progress == 100


def test_submit_answer_uses_job_id():
    accepted = parse_submitted({"jobId": "abc", "status": "QUEUED"})
    assert accepted.job_id == "abc" and accepted.status is JobStatus.QUEUED


@pytest.mark.parametrize("status", ["completed", " Completed "])
def test_status_case_is_tolerated(status):
    assert parse_job(dict(JOB, status=status)).status is JobStatus.COMPLETED


@pytest.mark.parametrize(
    "result", [["https://cdn/a.png"], "https://cdn/a.png", {"imageUrls": ["https://cdn/a.png"]}]
)
def test_result_shape_drift_is_tolerated(result):
    assert parse_job(dict(JOB, result=result)).images == ["https://cdn/a.png"]


def test_missing_result_means_no_images():
    job = dict(JOB, status="PROCESSING")
    del job["result"]
    assert parse_job(job).images == []


@pytest.mark.parametrize("body", [None, [], "x", {"status": "QUEUED"}, dict(JOB, status="EXPLODED")])
def test_unreadable_answers_are_typed_errors(body):
    with pytest.raises(ApiframeUnexpectedResponseError):
        parse_job(body)


def test_terminal_statuses():
    assert {s for s in JobStatus if s.is_terminal} == {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }
    assert {s for s in JobStatus if s.is_unsuccessful} == {JobStatus.FAILED, JobStatus.CANCELLED}
