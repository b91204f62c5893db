"""The credit limit's ledger, in this process and in a real Redis: the same rules in both."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from airflow_provider_apiframe.exceptions import ApiframeLedgerUnavailableError
from airflow_provider_apiframe.spending.ledger import CreditLimit, LocalLedger, RedisLedger, Spender
from benchmarks.services import free_port

DAY = "day:2026-11-30"


@pytest.fixture(params=["local", "redis"])
def ledger(request, monkeypatch):
    if request.param == "local":
        return LocalLedger()
    url = request.getfixturevalue("redis_url")
    monkeypatch.setenv("AIRFLOW_CONN_LEDGER_REDIS", url)
    return RedisLedger("ledger_redis", uuid.uuid4().hex)


def test_jobs_are_entered_until_the_limit_and_a_refusal_says_who_spent(ledger):
    assert ledger.reserve(DAY, {"a": 7, "b": 7}, "dag.one", 20) is None
    refusal = ledger.reserve(DAY, {"c": 7}, "dag.two", 20)
    assert (refusal.spent, refusal.asked, refusal.by) == (14, 7, {"dag.one": 14})
    assert ledger.reserve(DAY, {"c": 6}, "dag.two", 20) is None
    refusal = ledger.reserve(DAY, {"d": 1}, "dag.two", 20)
    assert (refusal.spent, refusal.by) == (20, {"dag.one": 14, "dag.two": 6})


def test_a_batch_is_entered_whole_or_not_at_all(ledger):
    assert ledger.reserve(DAY, {"a": 5}, "dag.t", 12) is None
    refusal = ledger.reserve(DAY, {"b": 5, "c": 5}, "dag.t", 12)
    assert refusal is not None and refusal.asked == 10
    assert ledger.reserve(DAY, {"b": 5}, "dag.t", 12) is None  # nothing of the refused batch was kept


def test_a_job_entered_again_is_not_counted_twice(ledger):
    assert ledger.reserve(DAY, {"a": 7}, "dag.t", 10) is None
    assert ledger.reserve(DAY, {"a": 7}, "dag.t", 10) is None  # a retry of the same job
    assert ledger.reserve(DAY, {"b": 7}, "dag.t", 10).spent == 7


def test_settling_frees_what_a_job_did_not_cost_and_a_refund_lets_a_retry_in(ledger):
    assert ledger.reserve(DAY, {"a": 8}, "dag.t", 10) is None
    ledger.settle((DAY,), {"a": 3})  # charged less than its highest price
    assert ledger.reserve(DAY, {"b": 7}, "dag.t", 10) is None
    ledger.settle((DAY,), {"b": None})  # failed, refunded
    assert ledger.reserve(DAY, {"b": 7}, "dag.t", 10) is None  # the retry's job is entered afresh
    assert ledger.reserve(DAY, {"a": 8}, "dag.t", 10) is None  # settled: a replay enters nothing
    assert ledger.reserve(DAY, {"c": 1}, "dag.t", 10).spent == 10


def test_a_job_is_settled_in_the_period_it_was_entered_in(ledger):
    yesterday, today = "day:2026-11-29", DAY
    assert ledger.reserve(yesterday, {"a": 9}, "dag.t", 10) is None
    ledger.settle((today, yesterday), {"a": 2})
    assert ledger.reserve(yesterday, {"b": 8}, "dag.t", 10) is None
    assert ledger.reserve(today, {"c": 10}, "dag.t", 10) is None


def test_a_job_of_unknown_price_gets_in_only_while_the_limit_is_not_reached(ledger):
    assert ledger.reserve(DAY, {"a": 0}, "dag.t", 5) is None
    ledger.settle((DAY,), {"a": 5})  # what it turned out to cost
    assert ledger.reserve(DAY, {"b": 0}, "dag.t", 5).spent == 5


def test_threads_racing_for_the_last_credits_never_pass_the_limit(ledger):
    entered = []

    def spend(worker: int) -> None:
        for job in range(20):
            if ledger.reserve(DAY, {f"{worker}-{job}": 3}, f"dag.w{worker}", 100) is None:
                entered.append(3)

    threads = [threading.Thread(target=spend, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(entered) == 99  # 33 jobs of 3: the 34th would pass 100


def test_an_unreachable_redis_is_a_retryable_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LEDGER_REDIS", f"redis://127.0.0.1:{free_port()}")
    with pytest.raises(ApiframeLedgerUnavailableError, match=r"ledger_redis.*nothing is submitted"):
        RedisLedger("ledger_redis", "name").reserve(DAY, {"a": 1}, "dag.t", 10)


def test_a_limit_counts_per_utc_day_or_per_dag_run():
    spender = Spender(dag_id="d", task_id="t", run_id="r1")
    now = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    assert CreditLimit(10, "day").periods(spender, now) == ("day:2026-12-01", "day:2026-11-30")
    assert CreditLimit(10, "dag_run").periods(spender, now) == ("run:d:r1",)
    assert Spender().label == "code outside a task" and spender.label == "d.t"
