"""
Airflow processes killed while a job runs, with the scheduler, triggerer and workers as separate
processes on a real metadata database: the task completes and only one job is ever paid for.

The tests share one Airflow (its start costs more than most of them), one DAG run each; every DAG
reaches its own emulator through its own connection, so each test counts only its own requests.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from PIL import Image

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
    # The LoRA trains for an hour: the test ends the training itself, once the second try waits for it.
    "apiframe_lora_lost_answer": EmulatorConfig(
        api_keys=(TEST_KEY,), job_duration=RESTART_JOB_DURATION, lora_duration_factor=1.0
    ),
}
# How long the API holds the answer to the POST that created the LoRA: the worker is killed meanwhile.
# Shorter than the hook's request timeout (60 s), so that only the kill can make a second try.
LORA_ANSWER_HELD = 30.0
# The API's price of a training, charged when the LoRA is created.
LORA_COST = 2
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
    env["APIFRAME_LORA_IMAGES"] = str(training_images(tmp / "lora_images", 15))
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


def training_images(folder: Path, count: int) -> Path:
    """``count`` small PNGs of one style, named as the LoRA DAG reads them."""
    folder.mkdir(parents=True)
    for number in range(count):
        Image.new("RGB", (64, 64), (20 + number * 12, 60, 140)).save(folder / f"style-{number:02d}.png")
    return folder


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


def executor_reported(cluster: AirflowCluster, dag_id: str, try_number: int) -> bool:
    """Whether the scheduler has taken in the executor's word that a try's process ended (its log says)."""
    log = (cluster.home / "scheduler.log").read_text(errors="replace")
    return any(
        f"dag_id='{dag_id}'" in line and f"try_number={try_number}," in line
        for line in log.splitlines()
        if "Received executor event with state success" in line
    )


def test_a_worker_killed_before_the_lora_answer_arrived_is_retried_and_trains_nothing_more(airflow, cluster):
    """
    The worker is SIGKILLed after the API created (and charged) the LoRA, before the answer reached it:
    the id is nowhere, neither in the task state store nor in XCom. The second try finds the LoRA by
    the task instance's name and waits for it on the triggerer: one LoRA, paid once.
    """
    dag_id = "apiframe_lora_lost_answer"
    server = airflow[1][dag_id]
    server.add_faults(
        {"method": "POST", "path": "/v2/loras", "action": "delay_after", "delay": LORA_ANSWER_HELD}
    )
    cluster.cli("dags", "trigger", dag_id)
    cluster.wait_for("the LoRA's creation", lambda: server.stats()["loras_created"] == 1, timeout=240)
    [(pid, try_number)] = cluster.query("select pid, try_number from task_instance where dag_id = ?", dag_id)
    assert pid and try_number == 1
    os.kill(int(pid), signal.SIGKILL)  # the process running the first try, as Airflow recorded it

    cluster.wait_for(
        "the second try to defer",
        lambda: (
            cluster.query("select state, try_number from task_instance where dag_id = ?", dag_id)
            == [("deferred", 2)]
        ),
        timeout=240,
    )
    # Airflow fails a task whose trigger fires before the scheduler has heard that the deferring
    # process ended (apache/airflow#66374): the training ends only after that.
    cluster.wait_for("the deferral's exit", lambda: executor_reported(cluster, dag_id, 2), timeout=60)
    server.advance_clock(RESTART_JOB_DURATION)
    state = cluster.wait_for("the DAG run to end", lambda: run_state(cluster, dag_id), timeout=300)
    [(task_state, try_number)] = cluster.query(
        "select state, try_number from task_instance where dag_id = ?", dag_id
    )
    stats = server.stats()
    assert (state, task_state, try_number) == ("success", "success", 2)
    assert stats["loras_created"] == 1 and stats["credits_charged"] == LORA_COST
    assert stats["loras_by_status"] == {"READY": 1}
    # The second try found the first try's LoRA by its name: it sent no POST of its own.
    logs = cluster.home / "logs" / f"dag_id={dag_id}"
    [second] = [path for path in logs.rglob("attempt=2.log") if path.is_file()]
    assert "exists already" in second.read_text()
