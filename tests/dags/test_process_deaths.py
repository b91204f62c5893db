"""
Airflow processes killed while a job runs, with the scheduler, triggerer and workers as separate
processes on a real metadata database: the task completes and only one job is ever paid for.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer
from tests.conftest import RESUMES_FROM_TASK_STATE, TEST_KEY, assert_key_in_no_file, connection_uri
from tests.dags.airflow_cluster import AirflowCluster

HERE = Path(__file__).resolve().parent
DAG_ID = "apiframe_restart"


def run_state(cluster: AirflowCluster, dag_id: str = DAG_ID) -> str | None:
    rows = cluster.query("select state from dag_run where dag_id = ?", dag_id)
    state = rows[0][0] if rows else None
    return state if state in ("success", "failed") else None


def status_requests(stats):
    """Polls by id and list pages: a process new to the model reads its job off a page of the model's jobs."""
    return stats["polls"] + stats["list_requests"]


def test_the_task_survives_a_triggerer_restart(tmp_path):
    """The new triggerer resumes the serialized trigger and the images reach the downstream task."""
    result = tmp_path / "urls.json"
    with EmulatorServer(EmulatorConfig(api_keys=(TEST_KEY,), job_duration=20.0)) as server:
        env = {
            "AIRFLOW_CONN_APIFRAME_DEFAULT": connection_uri(server.url),
            "APIFRAME_RESTART_RESULT": str(result),
        }
        with AirflowCluster(tmp_path / "home", HERE / "death_dags", env) as cluster:
            cluster.wait_for(
                "the DAG to be parsed", lambda: cluster.query("select 1 from dag where dag_id = ?", DAG_ID)
            )
            cluster.cli("dags", "trigger", DAG_ID)
            cluster.wait_for("the trigger to poll", lambda: status_requests(server.stats()) >= 1, timeout=240)

            cluster.kill("triggerer")
            polls_at_kill = status_requests(server.stats())
            time.sleep(4)
            assert status_requests(server.stats()) == polls_at_kill, (
                "something still polls with the triggerer dead"
            )
            [(job_state,)] = cluster.query("select state from task_instance where task_id = 'generate'")
            assert job_state == "deferred"

            cluster.start("triggerer")
            state = cluster.wait_for("the DAG run to end", lambda: run_state(cluster), timeout=300)
            stats = server.stats()
    assert state == "success"
    assert status_requests(stats) > polls_at_kill
    assert stats["submits"] == 1 and stats["jobs_created"] == 1 and stats["credits_charged"] == 7
    urls = json.loads(result.read_text())
    assert len(urls) == 1 and urls[0].startswith(server.url)
    task_logs = [path for path in (tmp_path / "home" / "logs").rglob("*") if path.is_file()]
    assert task_logs
    assert_key_in_no_file(tmp_path / "home")


def test_a_killed_worker_is_retried_on_the_job_already_paid_for(tmp_path):
    dag_id = "apiframe_worker_killed"
    with EmulatorServer(EmulatorConfig(api_keys=(TEST_KEY,), job_duration=4.0)) as server:
        env = {"AIRFLOW_CONN_APIFRAME_DEFAULT": connection_uri(server.url)}
        with AirflowCluster(tmp_path / "home", HERE / "death_dags", env) as cluster:
            cluster.wait_for(
                "the DAG to be parsed", lambda: cluster.query("select 1 from dag where dag_id = ?", dag_id)
            )
            cluster.cli("dags", "trigger", dag_id)
            state = cluster.wait_for("the DAG run to end", lambda: run_state(cluster, dag_id), timeout=300)
            [(task_state, try_number)] = cluster.query(
                "select state, try_number from task_instance where dag_id = ?", dag_id
            )
            stats = server.stats()
    assert (state, task_state, try_number) == ("success", "success", 2)
    assert stats["jobs_created"] == 1 and stats["credits_charged"] == 7
    assert_key_in_no_file(tmp_path / "home")
    if RESUMES_FROM_TASK_STATE:
        assert stats["submits"] == 1  # the retry read the job id from the task state store
    else:
        assert stats["submits"] == 2 and stats["idempotent_replays"] == 1


def test_a_batch_survives_its_triggerer_killed_mid_submission_and_its_worker_killed(tmp_path):
    """
    The triggerer dies while the batch submits (a new one submits the rest, each row's key handing back
    the jobs already made); then the worker dies once every row has a job, and the retry picks the jobs
    up: from the task state store on Airflow 3.3 (no submit at all), by the same keys on 2.11.
    """
    dag_id, rows = "apiframe_batch_deaths", 12
    # Paced to one submit a second after a burst of 3: the triggerer dies part way through.
    config = EmulatorConfig(api_keys=(TEST_KEY,), job_duration=3.0, rate_limit_per_minute=63)
    with EmulatorServer(config) as server:
        env = {"AIRFLOW_CONN_APIFRAME_DEFAULT": connection_uri(server.url, rate_limit_per_minute=63)}
        with AirflowCluster(tmp_path / "home", HERE / "death_dags", env) as cluster:
            cluster.wait_for(
                "the DAG to be parsed", lambda: cluster.query("select 1 from dag where dag_id = ?", dag_id)
            )
            cluster.cli("dags", "trigger", dag_id)
            cluster.wait_for("a few submits", lambda: server.stats()["submits"] >= 5, timeout=240)
            cluster.kill("triggerer")
            submitted_before_the_death = server.stats()["jobs_created"]
            assert submitted_before_the_death < rows
            cluster.start("triggerer")
            cluster.wait_for(
                "the first try's death", lambda: server.stats()["jobs_created"] == rows, timeout=240
            )
            state = cluster.wait_for("the DAG run to end", lambda: run_state(cluster, dag_id), timeout=300)
            [(task_state, try_number)] = cluster.query(
                "select state, try_number from task_instance where dag_id = ?", dag_id
            )
            stats = server.stats()
    assert (state, task_state, try_number) == ("success", "success", 2)
    assert stats["jobs_created"] == rows and stats["credits_charged"] == 7 * rows
    # The new triggerer resent the rows the old one had submitted: the keys gave their jobs back.
    assert stats["idempotent_replays"] >= submitted_before_the_death
    if RESUMES_FROM_TASK_STATE:
        # The retry found every row's job in the task state store and resent none of them.
        assert stats["idempotent_replays"] < rows
    else:
        # The retry resent every row: each got its job back by its key.
        assert stats["idempotent_replays"] >= submitted_before_the_death + rows
    assert_key_in_no_file(tmp_path / "home")
