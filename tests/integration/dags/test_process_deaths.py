"""
Airflow processes killed while a job runs, with the scheduler, triggerer and workers as separate
processes on a real metadata database: the task completes and only one job is ever paid for.

The tests share one Airflow (its start costs more than most of them), one DAG run each; every DAG
reaches its own emulator through its own connection, so each test counts only its own requests.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer
from benchmarks.airflow_cluster import AirflowCluster
from tests.conftest import RESUMES_FROM_TASK_STATE, TEST_KEY, assert_key_in_no_file, connection_uri

HERE = Path(__file__).resolve().parent
DAG_ID = "apiframe_restart"
# Longer than any test: the restart test ends its job itself, once the new triggerer has seen it running.
RESTART_JOB_DURATION = 3600.0
BATCH_RATE_LIMIT = 63
EMULATORS = {
    DAG_ID: EmulatorConfig(api_keys=(TEST_KEY,), job_duration=RESTART_JOB_DURATION),
    "apiframe_worker_killed": EmulatorConfig(api_keys=(TEST_KEY,), job_duration=4.0),
    # Paced to one submit a second after a burst of 3: the triggerer dies part way through.
    "apiframe_batch_deaths": EmulatorConfig(
        api_keys=(TEST_KEY,), job_duration=3.0, rate_limit_per_minute=BATCH_RATE_LIMIT
    ),
}
CONNECTION_EXTRAS = {"apiframe_batch_deaths": {"rate_limit_per_minute": BATCH_RATE_LIMIT}}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """One Airflow for the module's tests, every DAG parsed, and each DAG's emulator by its id."""
    tmp = tmp_path_factory.mktemp("process-deaths")
    servers = {dag_id: EmulatorServer(config).start() for dag_id, config in EMULATORS.items()}
    env = {
        f"AIRFLOW_CONN_{dag_id.upper()}": connection_uri(server.url, **CONNECTION_EXTRAS.get(dag_id, {}))
        for dag_id, server in servers.items()
    }
    env["APIFRAME_RESTART_RESULT"] = str(tmp / "urls.json")
    try:
        with AirflowCluster(tmp / "home", HERE / "death_dags", env) as cluster:
            cluster.wait_for(
                "the DAGs to be parsed",
                lambda: {dag_id for (dag_id,) in cluster.query("select dag_id from dag")} >= set(EMULATORS),
            )
            yield cluster, servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def cluster(airflow):
    """The shared Airflow with every component running, whatever an earlier test did to it."""
    cluster, _ = airflow
    cluster.start_stopped()
    yield cluster
    assert_key_in_no_file(cluster.home)


def status_requests(server: EmulatorServer) -> int:
    """How often the job's status was asked for: by its id, or on a page of the job list."""
    stats = server.stats()
    return stats["polls"] + stats["list_requests"]


def run_state(cluster: AirflowCluster, dag_id: str = DAG_ID) -> str | None:
    rows = cluster.query("select state from dag_run where dag_id = ?", dag_id)
    state = rows[0][0] if rows else None
    return state if state in ("success", "failed") else None


def test_the_task_survives_a_triggerer_restart(airflow, cluster):
    """The new triggerer resumes the serialized trigger and the images reach the downstream task."""
    server = airflow[1][DAG_ID]
    cluster.cli("dags", "trigger", DAG_ID)
    cluster.wait_for("the trigger to poll", lambda: status_requests(server) >= 1, timeout=240)

    cluster.kill("triggerer")
    polls_at_kill = status_requests(server)
    time.sleep(4)
    assert status_requests(server) == polls_at_kill, "something still polls with the triggerer dead"
    [(job_state,)] = cluster.query(
        "select state from task_instance where dag_id = ? and task_id = 'generate'", DAG_ID
    )
    assert job_state == "deferred"

    cluster.start("triggerer")
    # The new triggerer polls the job, still running; then the job ends (the emulator's clock moves on).
    cluster.wait_for("the new poller", lambda: status_requests(server) > polls_at_kill, timeout=240)
    server.advance_clock(RESTART_JOB_DURATION)
    state = cluster.wait_for("the DAG run to end", lambda: run_state(cluster), timeout=300)
    stats = server.stats()
    assert state == "success"
    assert stats["submits"] == 1 and stats["jobs_created"] == 1 and stats["credits_charged"] == 7
    urls = json.loads(Path(cluster.env["APIFRAME_RESTART_RESULT"]).read_text())
    assert len(urls) == 1 and urls[0].startswith(server.url)
    task_logs = [path for path in (cluster.home / "logs" / f"dag_id={DAG_ID}").rglob("*") if path.is_file()]
    assert task_logs


def test_a_killed_worker_is_retried_on_the_job_already_paid_for(airflow, cluster):
    dag_id = "apiframe_worker_killed"
    server = airflow[1][dag_id]
    cluster.cli("dags", "trigger", dag_id)
    state = cluster.wait_for("the DAG run to end", lambda: run_state(cluster, dag_id), timeout=300)
    [(task_state, try_number)] = cluster.query(
        "select state, try_number from task_instance where dag_id = ?", dag_id
    )
    stats = server.stats()
    assert (state, task_state, try_number) == ("success", "success", 2)
    assert stats["jobs_created"] == 1 and stats["credits_charged"] == 7
    if RESUMES_FROM_TASK_STATE:
        assert stats["submits"] == 1  # the retry read the job id from the task state store
    else:
        assert stats["submits"] == 2 and stats["idempotent_replays"] == 1


def test_a_batch_survives_its_triggerer_killed_mid_submission_and_its_worker_killed(airflow, cluster):
    """
    The triggerer dies while the batch submits (a new one submits the rest, each row's key handing back
    the jobs already made); then the worker dies once every row has a job, and the retry picks the jobs
    up: from the task state store on Airflow 3.3 (no submit at all), by the same keys on 2.11.
    """
    dag_id, rows = "apiframe_batch_deaths", 12
    server = airflow[1][dag_id]
    cluster.cli("dags", "trigger", dag_id)
    cluster.wait_for("a few submits", lambda: server.stats()["submits"] >= 5, timeout=240)
    cluster.kill("triggerer")
    submitted_before_the_death = server.stats()["jobs_created"]
    assert submitted_before_the_death < rows
    cluster.start("triggerer")
    cluster.wait_for("the first try's death", lambda: server.stats()["jobs_created"] == rows, timeout=240)
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
