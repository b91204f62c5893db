from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from airflow_provider_apiframe.exceptions import ApiframeUnexpectedResponseError
from airflow_provider_apiframe.wire.jobs import Job, JobStatus, parse_job, parse_submitted, parse_timestamp

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


def job_from_text(**fields: str) -> Job:
    """A job answer as JSON text, so that 1e400 and NaN arrive as the json module reads them."""
    extra = "".join(f', "{name}": {text}' for name, text in fields.items())
    return parse_job(json.loads(f'{{"id": "{JOB["id"]}", "status": "PROCESSING"{extra}}}'))


@pytest.mark.parametrize(
    ("field", "text", "attribute"),
    [
        ("progress", "1e400", "progress"),
        ("progress", "-1e400", "progress"),
        ("progress", "NaN", "progress"),
        ("progress", "101", "progress"),
        ("progress", "-1", "progress"),
        ("progress", "true", "progress"),
        ("progress", '"50"', "progress"),
        ("progress", "9" * 4000, "progress"),
        ("creditCost", "true", "credit_cost"),
        ("creditCost", "7.0", "credit_cost"),
        ("creditCost", "-7", "credit_cost"),
        ("creditCost", "9" * 4000, "credit_cost"),
        ("model", "42", "model"),
        ("createdAt", "1e400", "created_at"),
        ("createdAt", "NaN", "created_at"),
        ("createdAt", "9" * 400, "created_at"),
        ("createdAt", "-" + "9" * 400, "created_at"),
        ("createdAt", "1e20", "created_at"),
        ("createdAt", '"99999-01-01T00:00:00Z"', "created_at"),
        ("createdAt", '"9999-12-31T23:59:59-01:00"', "created_at"),
        ("createdAt", '"0001-01-01T00:00:00+01:00"', "created_at"),
        ("completedAt", "1e300", "completed_at"),
        ("completedAt", "false", "completed_at"),
    ],
)
def test_a_garbled_optional_field_reads_as_unknown_and_costs_nothing_else(field, text, attribute):
    job = job_from_text(**{"model": '"imagen-4"', field: text})
    assert getattr(job, attribute) is None
    assert job.status is JobStatus.PROCESSING and job.id == JOB["id"]


def test_every_timestamp_read_is_one_datetime_can_represent():
    # The last and first moments that are: kept, and what images_from_job does with them does not raise.
    for text in ("99999999999", "253402300799999", '"9999-12-31T23:59:59Z"', '"0001-01-01T00:00:00Z"'):
        moment = job_from_text(createdAt=text).created_at
        assert moment is not None
        datetime.fromtimestamp(moment, UTC)


def test_the_timestamps_the_contract_and_drift_allow_are_read():
    assert parse_timestamp("2026-11-24T01:35:31Z") == 1795484131.0
    assert parse_timestamp("2026-11-24T01:35:31") == 1795484131.0
    assert parse_timestamp(1795484131) == 1795484131.0
    assert parse_timestamp(1795484131500) == 1795484131.5
    assert parse_timestamp(True) is None


def test_fractional_progress_is_read_as_its_whole_percent():
    assert job_from_text(progress="45.7").progress == 45


def test_an_error_that_is_no_string_is_quoted_within_bounds():
    assert parse_job(dict(JOB, error=10**5000)).error == "<int too large to show>"
    assert len(parse_job(dict(JOB, error=list(range(1000)))).error) < 210
    assert job_from_text(error='{"code": 7}').error == "{'code': 7}"


def deeply_nested(depth: int) -> list:
    nested: list = []
    for _ in range(depth):
        nested = [nested]
    return nested


@pytest.mark.parametrize(
    "body",
    [
        dict(JOB, id=10**5000),
        dict(JOB, id=["x"]),
        dict(JOB, id=""),
        dict(JOB, status=10**5000),
        dict(JOB, status=deeply_nested(100_000)),
        dict(JOB, status=None),
        dict(JOB, status=["COMPLETED"]),
        {"id": 7, "status": "QUEUED", "junk": 10**5000},
    ],
    ids=[
        "giant-int-id",
        "list-id",
        "empty-id",
        "giant-int-status",
        "deep-status",
        "no-status",
        "list-status",
        "giant-int-beside-no-id",
    ],
)
def test_an_answer_without_a_readable_id_or_status_is_only_ever_a_typed_error(body):
    with pytest.raises(ApiframeUnexpectedResponseError) as info:
        parse_job(body)
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(
    "body", [{"jobId": 10**5000}, {"jobId": "a", "status": 10**5000}, {"jobId": "a", "status": "DONE"}]
)
def test_a_submit_answer_without_a_readable_id_or_status_is_a_typed_error(body):
    with pytest.raises(ApiframeUnexpectedResponseError):
        parse_submitted(body)
