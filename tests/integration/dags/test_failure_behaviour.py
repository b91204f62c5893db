"""
What a user sees when the API misbehaves, with Airflow running the task for real (``dag.test()`` in its
own process, retries included) against the emulator over loopback. Every run also checks that the key
shows up nowhere in the output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer
from tests.conftest import RESUMES_FROM_TASK_STATE, TEST_KEY, assert_key_in_no_file, connection_uri

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    env = dict(os.environ, AIRFLOW_HOME=str(home))
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    yield home
    assert_key_in_no_file(home)


def run_dag(home, dag_id, server, key=TEST_KEY, **extra):
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(HERE / "failure_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_APIFRAME_DEFAULT=connection_uri(server.url, key, **(extra or {"max_retries": 6})),
    )
    done = subprocess.run(
        [sys.executable, HERE / "run_dag.py", dag_id], env=env, capture_output=True, text=True, timeout=600
    )
    output = done.stdout + done.stderr
    assert key not in output
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, output[-5000:]
    return json.loads(results[-1][len("RESULT ") :]), output


def emulator(**overrides):
    return EmulatorServer(EmulatorConfig(api_keys=(TEST_KEY,), job_duration=1.0, **overrides))


def test_flaky_api_the_task_succeeds_with_exactly_one_job(airflow_home):
    with emulator() as server:
        server.add_faults(
            {"method": "POST", "path": "/v2/images/generate", "action": "drop_after", "times": 1},
            {"method": "POST", "path": "/v2/images/generate", "action": "status", "status": 503, "times": 2},
            {
                "method": "POST",
                "path": "/v2/images/generate",
                "action": "status",
                "status": 429,
                "retry_after": 1,
                "times": 1,
            },
            {"method": "GET", "path": "/v2/jobs/", "action": "status", "status": 502, "times": 2},
            {"method": "GET", "path": "/v2/jobs/", "action": "malformed", "status": 200, "times": 1},
            {"method": "GET", "path": "/v2/jobs/", "action": "drop_before", "times": 2},
        )
        result, _ = run_dag(airflow_home, "apiframe_flaky", server)
        stats = server.stats()
    assert result["state"] == "success"
    assert result["tasks"]["generate"] == {"state": "success", "try_number": 1}
    assert result["tasks"]["check"]["state"] == "success"
    assert stats["jobs_created"] == 1 and stats["credits_charged"] == 7
    assert stats["responses_by_status"]["429"] == 1 and stats["responses_by_status"]["503"] == 2


def test_a_storm_of_faults_is_ridden_out_without_task_retries_and_paid_once(airflow_home):
    # About half of all requests fail (5xx or a dropped connection), and every other successful submit
    # answer is lost after the job exists; the tasks have Airflow's default of no retries.
    with emulator(error_rate=0.3, drop_rate=0.2, lose_submit_answer_every=2, seed=11) as server:
        result, _ = run_dag(airflow_home, "apiframe_storm", server, retry_timeout=120)
        stats = server.stats()
    assert result["state"] == "success", result
    assert stats["jobs_created"] == 3 and stats["credits_charged"] == 21
    assert stats["idempotent_replays"] >= 1  # lost answers were recovered by the key, not paid again
    faulted = sum(n for code, n in stats["responses_by_status"].items() if code.startswith("5"))
    assert faulted + stats["dropped_connections"] >= 5


@pytest.mark.parametrize(
    ("config", "key", "says", "submits"),
    [
        ({"credits": 3}, TEST_KEY, ["needs 7 credits", "has 3"], 1),
        ({}, "afk_revoked_key_0000", ["HTTP 401", "Password field of connection 'apiframe_default'"], 0),
    ],
    ids=["402-credits", "401-key"],
)
def test_permanent_error_fails_the_first_try_and_skips_retries(airflow_home, config, key, says, submits):
    with emulator(**config) as server:
        result, output = run_dag(airflow_home, "apiframe_permanent", server, key=key)
        stats = server.stats()
    # retries=2, none used: neither for the API's refusal nor for a connection id that does not exist
    assert result["tasks"]["generate"] == {"state": "failed", "try_number": 1}
    assert result["tasks"]["misspelled"] == {"state": "failed", "try_number": 1}
    assert stats["submits"] == submits and stats["jobs_created"] == 0
    for text in [*says, "The Airflow connection 'apiframe_defualt' does not exist: create it"]:
        assert text in output


def test_failed_cancelled_and_endless_jobs_fail_the_task_with_the_reason(airflow_home):
    with emulator() as server:
        result, output = run_dag(airflow_home, "apiframe_job_failures", server)
        stats = server.stats()
    tasks = result["tasks"]
    assert {name: t["state"] for name, t in tasks.items()} == {
        "failed": "failed",
        "cancelled": "failed",
        "never": "failed",
    }
    assert (
        "content policy violation" in output
        and "ended CANCELLED" in output
        and "did not finish within" in output
    )
    # The FAILED job was replaced by a new one on the retry; the other two tasks had no retries.
    assert tasks["failed"]["try_number"] == 2
    assert stats["jobs_created"] == 4


def test_retry_after_a_crash_reuses_the_job_already_paid_for(airflow_home):
    with emulator() as server:
        result, output = run_dag(airflow_home, "apiframe_crash_after_submit", server)
        stats = server.stats()
    assert "simulated crash" in output
    assert result["tasks"]["generate"] == {"state": "success", "try_number": 2}
    assert result["tasks"]["check"]["state"] == "success"
    assert stats["jobs_created"] == 1 and stats["credits_charged"] == 7
    if RESUMES_FROM_TASK_STATE:
        assert stats["submits"] == 1  # Airflow 3.3+: the retry read the job id back, sent no submit
    else:
        assert stats["idempotent_replays"] == 1  # older Airflow: resubmitted, the key gave the same job
