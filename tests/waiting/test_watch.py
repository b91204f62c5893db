from __future__ import annotations

import itertools
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
from airflow_provider_apiframe.waiting.durations import history_for, pace_prediction, quantile
from airflow_provider_apiframe.waiting.watch import (
    JobWatch,
    Sighting,
    result_from_event,
)
from airflow_provider_apiframe.wire.jobs import Job, JobStatus


def watch(deadline=100.0, model=None):
    return JobWatch(
        "j", poll_interval=5.0, deadline=deadline, submitted_at=0.0, log=logging.getLogger("t"), model=model
    )


def job(status, progress=None, **kw):
    return Job(id="j", status=JobStatus(status), progress=progress, **kw)


def test_pace_runs_from_the_earliest_reading_not_the_last_step():
    # 20% -> 60% in 4 s is 10%/s: 4 s to go, although the last step alone (50 -> 60 in 0.5 s) says 2 s.
    prediction = pace_prediction([(2.0, 20), (5.5, 50), (6.0, 60)])
    assert prediction is not None and not prediction.from_creation
    assert prediction.end_age == pytest.approx(10.0)


def test_one_reading_paces_the_job_from_its_creation():
    prediction = pace_prediction([(2.0, 50)])
    assert prediction is not None and prediction.from_creation
    assert prediction.end_age == pytest.approx(4.0)


def test_no_pace_without_progress():
    assert pace_prediction([]) is None
    assert pace_prediction([(3.0, 0)]) is None


def test_a_stall_does_not_bring_the_predicted_end_closer_with_every_reading():
    first = pace_prediction([(2.0, 50), (3.0, 99)])
    later = pace_prediction([(2.0, 50), (3.0, 99), (6.0, 99), (9.0, 99)])
    assert first == later


def run_until_done(w, progress_at, ends_at, start=0.0):
    """Drive a watch against a job whose progress is ``progress_at(t)``; return the poll times."""
    polls, now = [], start + w.first_delay(start)
    while True:
        polls.append(now)
        if now >= ends_at:
            step = w.after_poll(
                job("COMPLETED", 100, images=["u"], created_at=0.0, completed_at=ends_at), now
            )
            assert isinstance(step, dict)
            return polls
        step = w.after_poll(job("PROCESSING", progress_at(now), created_at=0.0), now)
        assert isinstance(step, float)
        now += step


def test_a_stalled_job_is_polled_ever_more_slowly_never_faster_and_faster():
    # Progress races to 99 in 2 s, then stalls for a minute.
    polls = run_until_done(watch(deadline=1000.0), lambda t: min(99, int(50 * t)), ends_at=60.0)
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    late = gaps[3:]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(late)), gaps
    assert len(polls) <= 25  # not a poll every half second for a minute


def test_front_loaded_progress_is_not_taken_at_its_word():
    # 90% after a fifth of a 10 s job: a straight line would say "done in 0.2 s" over and over.
    polls = run_until_done(watch(), lambda t: min(99, int(100 * (1 - (1 - t / 10) ** 10))), ends_at=10.0)
    assert len(polls) <= 12  # not one every half second
    assert polls[-1] - 10.0 <= 2.0  # cold, with nothing learned: late by a fifth of its length at most


def learn(model, durations, shape=lambda share: int(99 * share)):
    """Teach ``model`` finished jobs; ``shape`` None for a model that reports no progress."""
    history = history_for(model)
    for duration in durations:
        sightings = [(duration * k / 10, shape(k / 10)) for k in range(1, 10)] if shape else []
        history.record(duration, sightings)


def test_learned_durations_place_the_first_poll_without_progress():
    learn("m", [8.0 + 0.1 * i for i in range(20)], shape=None)
    w = watch(model="m")
    first = w.first_delay(0.0)
    # The shortest known jobs take 8 s: nothing to ask at 2 s; the first poll comes as they end.
    assert 8.0 <= first <= 9.0


def test_learned_shape_reads_stepped_progress():
    # Jobs of 10 s whose progress jumps in quarters: "50" means somewhere in the middle half.
    learn("steps", [10.0] * 20, shape=lambda share: 25 * int(4 * share))
    w = watch(model="steps", deadline=1000.0)
    polls = run_until_done(w, lambda t: 25 * int(4 * t / 10), ends_at=10.0)
    assert len(polls) <= 3 and polls[-1] - 10.0 <= 1.0


def test_history_is_per_model_and_learned_from_finished_jobs():
    w = watch(model="a")
    w.after_poll(job("PROCESSING", 50, created_at=0.0, model="a"), now=5.0)
    w.after_poll(job("COMPLETED", 100, images=["u"], created_at=0.0, completed_at=10.0, model="a"), now=10.5)
    assert history_for("a").known_durations == 1
    assert history_for("b").known_durations == 0


def test_a_queued_job_reads_0_and_a_running_one_without_progress_reads_nothing():
    w = watch()
    # Not started yet tells where the job is in its life even where the API gives no progress.
    w.after_poll(job("QUEUED"), now=1.0)
    w.after_poll(job("PROCESSING"), now=1.5)
    assert w.sightings == [Sighting(1.0, 0)] and not w.shows_progress
    w.after_poll(job("PROCESSING", 40), now=2.0)
    w.after_poll(job("PROCESSING", 60), now=3.0)
    assert w.sightings == [Sighting(1.0, 0), Sighting(2.0, 40), Sighting(3.0, 60)] and w.shows_progress


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


def test_where_the_model_reports_progress_the_first_poll_reads_it_soon_after_the_earliest_end():
    learn("p", [8.0 + 0.1 * i for i in range(20)])  # linear progress, 8 to 10 s
    first = watch(model="p").first_delay(0.0)
    # A job still running then shows how far it has to go: the poll need not wait for the latest end.
    assert 7.0 <= first <= 9.0


def test_learned_readings_correct_a_pace_that_promises_an_early_end():
    # Front-loaded progress: 10 s jobs at 48 % after a fifth of their life and 65 % after three
    # tenths, so their pace says "done at 5 s" when 10 s is the truth.
    def front(share):
        return int(100 * (1 - (1 - share) ** 3))

    learn("front", [10.0] * 20, shape=front)
    readings = [(10.0 * k / 10, front(k / 10)) for k in (2, 3)]
    raw = pace_prediction(readings)
    assert raw is not None and raw.end_age < 5.5
    estimate = history_for("front").end_estimate(3.0, readings)
    assert estimate and 9.0 <= quantile(estimate, 0.5) <= 11.0


def test_durations_spread_into_a_smooth_estimate_with_tails():
    learn("d", [8.0] * 10 + [12.0] * 10, shape=None)
    estimate = history_for("d").end_estimate(0.0)
    ends = [end for end, _ in estimate]
    # Not only the two values seen: ends between and beyond them are likely too.
    assert min(ends) < 8.0 and max(ends) > 12.0 and any(8.5 < end < 11.5 for end in ends)
    assert sum(weight for _, weight in estimate) == pytest.approx(1.0)


def test_a_job_older_than_nearly_every_known_one_is_late_not_placed_by_the_tail():
    learn("short", [1.0 + 0.01 * i for i in range(20)], shape=None)
    assert history_for("short").end_estimate(0.5)
    # The jobs learned first are often the short ones: their kernel's tail must not have a long job
    # polled every 0.8 s.
    assert history_for("short").end_estimate(3.0) == []
    w = watch(model="short", deadline=1000.0)
    w.polls = 1
    assert w.first_delay(30.0) >= 0.15 * 30.0 - 1e-9


def test_a_pace_without_learned_readings_is_not_overruled_by_durations_blind_to_progress():
    learn("paged", [2.0] * 20, shape=None)  # durations only, as a page teaches them
    assert history_for("paged").end_estimate(1.0, [(1.0, 10)]) == []


def test_a_job_still_queued_late_in_its_life_is_placed_among_the_long_ones():
    # Jobs of 5 to 20 s that wait QUEUED for their first 30 %: one still QUEUED at 4.5 s is one of the
    # longest (over 15 s), though the durations alone would expect many to end within seconds.
    learn(
        "queue",
        [5.0 + 0.75 * i for i in range(21)],
        shape=lambda share: max(0, int(99 * (share - 0.3) / 0.7)),
    )
    history = history_for("queue")
    assert quantile(history.end_estimate(4.5), 0.04) < 8.0
    assert quantile(history.end_estimate(4.5, [(4.5, 0)]), 0.04) > 13.0
