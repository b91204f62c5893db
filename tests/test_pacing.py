from __future__ import annotations

import time

import pytest

from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.pacing import Pacer, shared_pacer
from tests.conftest import TEST_KEY, connection_uri


def test_sends_within_the_limit_go_at_once_and_the_next_wait_for_the_window():
    pacer = Pacer(limit=3, window=10.0)
    assert [pacer.reserve(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert pacer.reserve(100.0) == pytest.approx(10.0)
    assert pacer.reserve(101.0) == pytest.approx(9.0)


def test_no_window_ever_holds_more_than_the_limit():
    pacer = Pacer(limit=5, window=1.0)
    now, sends = 0.0, []
    for step in range(60):
        now += 0.05 * (step % 3)
        sends.append(now + pacer.reserve(now))
    sends.sort()
    assert all(sum(1 for s in sends if t - 1.0 + 1e-9 < s <= t) <= 5 for t in sends)  # 1e-9: float sums
    assert sends[-1] <= 60 / 5 + 0.5  # and no slower than the limit requires


def test_one_budget_per_host_and_key():
    a = shared_pacer("http://h", "afk_one", 500)
    assert shared_pacer("http://h", "afk_one", 500) is a
    assert shared_pacer("http://h", "afk_two", 500) is not a
    assert shared_pacer("http://other", "afk_one", 500) is not a


def test_hooks_of_a_process_share_the_connections_budget(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), rate_limit_per_minute=3)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url, rate_limit_per_minute=3))
    for _ in range(3):
        ApiframeHook().get_account()
    assert server.stats()["responses_by_status"].get("429", 0) == 0
    # A fourth request from any hook of this process would now wait for the window, not meet a 429.
    assert ApiframeHook().transport.pacer.reserve(time.monotonic()) > 55


def test_pacing_can_be_turned_off(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, rate_limit_per_minute=0))
    assert ApiframeHook().transport.pacer is None
