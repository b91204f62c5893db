from __future__ import annotations

import itertools
import logging
import os

import pytest

from airflow_provider_apiframe.wire.pacing import LocalBudget, Pacer
from airflow_provider_apiframe.wire.redis_budget import RedisBudget
from benchmarks.budget_processes import run_pair
from tests.conftest import TEST_KEY, connection_uri


def redis_budgets(count, limit, burst=1):
    """``count`` budgets naming one Redis, as ``count`` processes sharing a key would hold them."""
    return [
        RedisBudget("redis_default", "test-digest", LocalBudget(Pacer(limit, burst))) for _ in range(count)
    ]


def test_budgets_naming_one_redis_keep_one_pace(redis_url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_DEFAULT", redis_url)
    first, second = redis_budgets(2, limit=61)  # one send a second
    bookings = [budget.book() for _ in range(5) for budget in (first, second)]
    sends = sorted(b.send_at for b in bookings)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sends)]
    # Ten sends from two holders, one second apart as one budget: not two sends at each second.
    assert gaps == pytest.approx([1.0] * 9, abs=0.05)


def test_a_429_seen_by_one_process_slows_every_process(redis_url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_DEFAULT", redis_url)
    first, second = redis_budgets(2, limit=61)
    booking = first.book()
    first.refused(retry_after=5.0, booking=booking)
    assert second.book().wait == pytest.approx(5.0, abs=0.2)


def test_without_redis_each_process_paces_itself_and_says_so(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_DEFAULT", "redis://127.0.0.1:1")  # nothing listens there
    [budget] = redis_budgets(1, limit=61)
    with caplog.at_level(logging.WARNING):
        waits = [budget.book().wait for _ in range(3)]
    assert waits == pytest.approx([0.0, 1.0, 2.0], abs=0.05)  # the local pace, not an error
    assert "paces itself" in caplog.text


# A minute and more by nature (the limit is per minute); the budget has no Airflow-version-specific
# code, so one Airflow series proves it.
@pytest.mark.skipif(
    __import__("airflow").__version__.startswith("2."), reason="run once, on Airflow 3 (a minute long)"
)
def test_a_worker_and_a_triggerer_sharing_a_key_stay_under_its_limit_together(
    apiframe_emulator_factory, redis_url
):
    # 32 requests against a limit of 30 a minute: two processes pacing alone would each send 16
    # within 35 s and hit the limit together; sharing one pace they never do.
    limit, each = 30, 16
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), rate_limit_per_minute=limit)
    env = dict(
        os.environ,
        AIRFLOW_CONN_APIFRAME_DEFAULT=connection_uri(
            server.url, rate_limit_per_minute=limit, rate_limit_redis_conn_id="redis_default", max_retries=0
        ),
        AIRFLOW_CONN_REDIS_DEFAULT=redis_url,
    )
    outcomes = run_pair(env, each, timeout=180).outcomes
    assert [len(o) for o in outcomes] == [each, each]
    assert server.stats()["responses_by_status"].get("429", 0) == 0
    assert all(outcome == "ok" for o in outcomes for outcome in o)


def test_the_headroom_of_a_shared_budget_counts_every_process_bookings(redis_url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_DEFAULT", redis_url)
    first, second = redis_budgets(2, limit=61)  # one send a second
    assert second.headroom().wait == 0.0
    for _ in range(4):
        first.book()
    # The other process's bookings come first: a send the second books now waits for them.
    assert second.headroom().wait == pytest.approx(4.0, abs=0.1)
    assert second.headroom().rate == pytest.approx(1.0)
