"""
The provider on the topology our users run: PostgreSQL for the metadata database, Redis as the Celery
broker and the key's shared request budget, two Celery workers, two triggerers, a scheduler, a DAG
processor and the API server, every one a real process in its own process group.

A batch submits in chunks on the triggerers while a mapped task waits on the workers, through one
connection (one key). Meanwhile the test SIGKILLs a Celery worker running a mapped task, kills the
triggerer running the batch's submits (its trigger moves to the other) and restarts Redis. Every row
and every task instance ends with its image, each paid exactly once, the API never answers 429, the
metrics arrive over StatsD, and nothing is left running. Small enough for CI; the full size is
``benchmarks/topology.py``.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer
from benchmarks.airflow_topology import TOPOLOGY_DAGS, TOPOLOGY_RATE_LIMIT, Topology, still_running
from tests.conftest import TEST_KEY, assert_key_in_no_file

DAGS = Path(__file__).resolve().parents[3] / "benchmarks" / "topology_dags"
pytestmark = pytest.mark.skipif(
    Version(version("apache-airflow")).major < 3,
    reason="Celery, PostgreSQL and two triggerers prove the engine alike on both series; one run suffices",
)
ROWS, CHUNK, MAPPED = 36, 12, 4
PRICE = 7  # imagen-4's credits per image


def test_one_paid_job_per_row_and_task_through_a_killed_worker_triggerer_and_redis(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    config = EmulatorConfig(
        api_keys=(TEST_KEY,),
        rate_limit_per_minute=TOPOLOGY_RATE_LIMIT,
        # Production's variety: lognormal lengths, no progress reported.
        job_duration=4.0,
        duration_sigma=0.4,
        progress_shape="none",
        seed=23,
    )
    sizes = {"rows": ROWS, "chunk": CHUNK, "mapped": MAPPED}
    with (
        EmulatorServer(config) as api,
        Topology(tmp_path / "cluster", DAGS, api.url, TEST_KEY, results=results, sizes=sizes) as topology,
    ):
        cluster = topology.airflow
        topology.trigger("apiframe_topology_mapped")
        topology.trigger("apiframe_topology_batch")

        # A worker dies with a mapped task's process (its job already submitted) in it.
        killed_worker = cluster.wait_for(
            "a mapped task running on a worker", lambda: topology.worker_running("apiframe_topology_mapped")
        )
        cluster.wait_for("its job", lambda: api.stats()["jobs_created"] >= 1)
        cluster.kill(killed_worker)

        # The triggerer running the batch's submits dies part way through; the other takes them over.
        cluster.wait_for(
            "the batch's second chunk", lambda: api.stats()["jobs_created"] >= MAPPED + CHUNK + 3, timeout=240
        )
        killed_triggerer = cluster.wait_for(
            "the triggerer of the batch", lambda: topology.triggerer_of("apiframe_topology_batch")
        )
        cluster.kill(killed_triggerer)
        made_at_the_death = api.stats()["jobs_created"]
        cluster.wait_for(
            "the other triggerer to go on",
            lambda: api.stats()["jobs_created"] > made_at_the_death,
            timeout=240,
        )

        # Redis (broker, budget) goes away and comes back with its data, as a restarted pod with a volume.
        topology.redis.restart()

        states = {
            dag_id: cluster.wait_for(f"{dag_id} to end", lambda d=dag_id: topology.run_state(d), timeout=420)
            for dag_id in TOPOLOGY_DAGS
        }
        logs = topology.logs()
        stats = api.stats()
        tries = cluster.query(
            "select max(try_number) from task_instance where dag_id = 'apiframe_topology_mapped'"
        )
        pids = topology.processes()
    metrics = topology.statsd.apiframe_counters()

    assert states == dict.fromkeys(TOPOLOGY_DAGS, "success"), logs
    # Every row and task instance has its image, each paid once; the killed worker's task was retried.
    assert json.loads((results / "batch.json").read_text()) == {f"row-{i}": 1 for i in range(ROWS)}
    assert stats["jobs_created"] == ROWS + MAPPED
    assert stats["credits_charged"] == PRICE * (ROWS + MAPPED)
    assert tries == [(2,)]
    # Resent after the triggerer's death: at most the chunk it was submitting (each given back its job).
    assert stats["idempotent_replays"] <= CHUNK
    # One budget for the key across the processes and a Redis restart: the API never refused a request.
    assert stats["responses_by_status"].get("429", 0) == 0
    # The metrics of workers and triggerers alike reached StatsD.
    assert metrics["credits_spent.imagen-4"] == PRICE * (ROWS + MAPPED)
    assert metrics["jobs.completed.imagen-4"] == ROWS + MAPPED
    assert metrics["jobs.submitted.imagen-4"] >= ROWS + MAPPED
    assert metrics["requests.submit.202"] >= ROWS + MAPPED
    assert any(".jobs_waiting." in name for name in topology.statsd.names("g"))
    # Nothing the test started outlives it, and the key is in no file it left.
    assert still_running(pids) == []
    assert_key_in_no_file(tmp_path)
