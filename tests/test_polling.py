from __future__ import annotations

import logging

import pytest

from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeError,
    ApiframeJobFailedError,
    ApiframeJobTimeoutError,
    ApiframeNotFoundError,
    ApiframeTransientError,
)
from airflow_provider_apiframe.jobs import Job, JobStatus
from airflow_provider_apiframe.polling import (
    MIN_POLL_INTERVAL,
    JobWatch,
    Sighting,
    next_poll_delay,
    result_from_event,
)


def watch(deadline=100.0):
    return JobWatch("j", poll_interval=5.0, deadline=deadline, submitted_at=0.0, log=logging.getLogger("t"))


def job(status, progress=None, **kw):
    return Job(id="j", status=JobStatus(status), progress=progress, **kw)


def test_one_sighting_paces_the_job_from_its_submit():
    # 50% after 2 s: about 2 s to go.
    assert next_poll_delay(Sighting(12.0, 50), None, submitted_at=10.0, poll_interval=5.0) == pytest.approx(
        2.0
    )


def test_two_sightings_pace_the_job_from_each_other():
    # 20% -> 60% in 2 s is 20%/s: 2 s to go, whatever the queue time before.
    delay = next_poll_delay(Sighting(8.0, 60), Sighting(6.0, 20), submitted_at=0.0, poll_interval=5.0)
    assert delay == pytest.approx(2.0)


def test_delay_is_bounded_both_ways():
    assert next_poll_delay(Sighting(5.0, 1), None, submitted_at=0.0, poll_interval=5.0) == 5.0
    assert next_poll_delay(Sighting(1.0, 99), None, submitted_at=0.0, poll_interval=5.0) == MIN_POLL_INTERVAL


def test_without_a_sighting_the_interval_is_used():
    assert next_poll_delay(None, None, submitted_at=0.0, poll_interval=4.0) == 4.0


def test_queued_and_finished_progress_are_not_sightings():
    w = watch()
    w.after_poll(job("QUEUED", 0), now=1.0)
    assert w.latest is None
    w.after_poll(job("PROCESSING", 40), now=2.0)
    w.after_poll(job("PROCESSING", 60), now=3.0)
    assert (w.earlier, w.latest) == (Sighting(2.0, 40), Sighting(3.0, 60))


def test_first_poll_waits_for_a_fresh_job_but_not_for_a_resumed_one():
    assert watch().first_delay(now=0.5) == pytest.approx(1.5)
    assert watch().first_delay(now=60.0) == 0.0


def test_completed_job_gives_success_with_images():
    event = watch().after_poll(job("COMPLETED", 100, images=["u"], credit_cost=7), now=9.0)
    assert event == {"status": "success", "job_id": "j", "images": ["u"], "credit_cost": 7}
    assert result_from_event(event) == ["u"]


def test_completed_without_images_is_an_error():
    event = watch().after_poll(job("COMPLETED", 100), now=9.0)
    with pytest.raises(ApiframeJobFailedError, match="without any image"):
        result_from_event(event)


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
def test_unsuccessful_end_carries_the_api_reason(status):
    event = watch().after_poll(job(status, error="content policy"), now=3.0)
    with pytest.raises(ApiframeJobFailedError) as info:
        result_from_event(event)
    assert info.value.status == status and "content policy" in str(info.value)


def test_transient_poll_error_keeps_waiting():
    step = watch().after_poll(ApiframeTransientError("503"), now=3.0)
    assert isinstance(step, float) and step > 0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ApiframeNotFoundError("gone"), ApiframeNotFoundError),
        (ApiframeAuthError("key"), ApiframeAuthError),
    ],
)
def test_permanent_poll_error_ends_the_wait_typed(error, expected):
    event = watch().after_poll(error, now=3.0)
    with pytest.raises(expected):
        result_from_event(event)


def test_deadline_ends_the_wait_with_timeout():
    w = watch(deadline=10.0)
    assert isinstance(w.after_poll(job("PROCESSING", 10), now=9.0), float)
    event = w.after_poll(job("PROCESSING", 20), now=10.5)
    with pytest.raises(ApiframeJobTimeoutError, match="did not finish within"):
        result_from_event(event)


def test_sleep_never_passes_the_deadline():
    assert watch(deadline=10.0).after_poll(job("QUEUED"), now=9.0) == pytest.approx(1.0)


def test_each_status_change_is_logged_once(caplog):
    w = watch()
    with caplog.at_level(logging.INFO, logger="t"):
        for status in ["QUEUED", "QUEUED", "PROCESSING", "PROCESSING", "PROCESSING"]:
            w.after_poll(job(status, 10), now=1.0)
    assert [r.getMessage().split(" is ")[1].split()[0] for r in caplog.records] == ["QUEUED", "PROCESSING"]


def test_unreadable_event_is_an_error():
    with pytest.raises(ApiframeError):
        result_from_event(None)
