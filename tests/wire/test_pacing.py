from __future__ import annotations

import itertools
import time

import pytest

from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.wire.budgets import budget_for
from airflow_provider_apiframe.wire.pacing import Pacer
from tests.conftest import TEST_KEY, connection_uri


def sends_at(pacer, arrivals):
    """When each request arriving at the given times is actually sent."""
    return [now + pacer.reserve(now) for now in arrivals]


def test_a_small_burst_goes_at_once_then_a_steady_pace():
    pacer = Pacer(limit_per_minute=120, burst=3)  # 60 / (120 - 3) s apart
    sends = sends_at(pacer, [100.0] * 8)
    assert sends[:3] == [100.0, 100.0, 100.0]
    gaps = [b - a for a, b in itertools.pairwise(sends[2:])]
    assert gaps == pytest.approx([60 / 117] * 5)


def test_no_request_waits_longer_than_the_rate_requires():
    pacer = Pacer(limit_per_minute=60, burst=1)
    assert pacer.reserve(0.0) == 0.0
    assert pacer.reserve(10.0) == 0.0  # ten quiet seconds: nothing to wait for
    assert pacer.reserve(10.2) == pytest.approx(60 / 59 - 0.2)


@pytest.mark.parametrize("limit", [3, 60, 500])
def test_no_sliding_minute_ever_holds_more_than_the_limit(limit):
    pacer = Pacer(limit_per_minute=limit)
    # Bursty arrivals: many at once, quiet spells, a trickle.
    arrivals = sorted([0.0] * limit + [30.0 + 0.01 * i for i in range(limit)] + [200.0] * limit)
    sends = sorted(sends_at(pacer, arrivals))
    for i, start in enumerate(sends):
        in_window = sum(1 for s in sends[i:] if s < start + 60.0 - 1e-9)
        assert in_window <= limit
    # ...and it is not slower than that: the last of 3 * limit sends goes out within 3 minutes + a pace.
    assert sends[-1] <= 200.0 + 60.0 + 60.0 / (limit - pacer.burst)


def test_a_429_halves_the_pace_and_holds_sends_as_asked_then_the_pace_recovers():
    pacer = Pacer(limit_per_minute=120, burst=1)
    nominal = pacer.rate_per_minute
    pacer.rate_limited(now=10.0, retry_after=3.0, sent_at=9.9)
    assert pacer.rate_per_minute == pytest.approx(nominal / 2)
    assert pacer.reserve(10.0) == pytest.approx(3.0)
    # A second 429 to a request sent before the slowdown says nothing new.
    pacer.rate_limited(now=10.1, retry_after=None, sent_at=9.95)
    assert pacer.rate_per_minute == pytest.approx(nominal / 2)
    later = pacer.reserve(100.0)  # a minute and a half without a 429
    assert later == 0.0 and pacer.rate_per_minute == pytest.approx(nominal)


def test_repeated_429s_slow_down_to_a_floor_not_to_a_halt():
    pacer = Pacer(limit_per_minute=120)
    for step in range(20):
        pacer.rate_limited(now=float(step), retry_after=None, sent_at=float(step))
    assert pacer.rate_per_minute == pytest.approx(60 / (16 * pacer.nominal_interval))


def test_one_budget_per_host_and_key():
    a = budget_for("http://h", "afk_one", 500)
    assert budget_for("http://h", "afk_one", 500) is a
    assert budget_for("http://h", "afk_two", 500) is not a
    assert budget_for("http://other", "afk_one", 500) is not a


def test_hooks_of_a_process_share_the_connections_budget(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), rate_limit_per_minute=20)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url, rate_limit_per_minute=20))
    started = time.monotonic()
    for _ in range(2):
        ApiframeHook().get_account()
    assert server.stats()["responses_by_status"].get("429", 0) == 0
    # Two sends of a budget of 20 a minute with a burst of 1: the second, from another hook, waited
    # for the pace (60 / 19 s).
    assert time.monotonic() - started >= 3.0
    assert ApiframeHook().transport.budget.pacer.reserve(time.monotonic()) > 2.5


def test_pacing_can_be_turned_off(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, rate_limit_per_minute=0))
    assert ApiframeHook().transport.budget is None


def test_headroom_tells_the_pace_and_the_wait_of_the_next_send_without_booking_it():
    pacer = Pacer(limit_per_minute=120, burst=2)  # 60 / 118 s apart
    assert pacer.headroom(50.0).wait == 0.0
    for _ in range(5):
        pacer.reserve(50.0)
    headroom = pacer.headroom(50.0)
    assert headroom.rate == pytest.approx(118 / 60)
    # Asking again books nothing: the wait it tells is the wait the next booking gets.
    assert pacer.headroom(50.0) == headroom
    assert headroom.wait == pytest.approx(pacer.reserve(50.0)) and headroom.wait > 0
    pacer.rate_limited(now=50.0, retry_after=None, sent_at=50.0)
    assert pacer.headroom(50.0).rate == pytest.approx(headroom.rate / 2)
