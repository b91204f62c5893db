"""
A DAG run with the settings a cluster uses, against an API that answers 429 and 503 (``dag.test()`` in
its own process): the provider's metrics through Airflow's own Stats, received on a real UDP StatsD
socket, and a batch's results kept by the object-storage XCom backend (common.io) instead of the
metadata database, read back by the next task.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer
from benchmarks.statsd_listener import StatsdListener
from tests.conftest import TEST_KEY, connection_uri

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(
    Version(version("apache-airflow")).major < 3,
    reason="Stats is reached through the compat layer alike on Airflow 2; one run suffices",
)


def test_requests_retries_jobs_credits_and_waiting_jobs_arrive_over_statsd(tmp_path):
    listener = StatsdListener()
    home = tmp_path / "home"
    try:
        with EmulatorServer(EmulatorConfig(api_keys=(TEST_KEY,), job_duration=0.5)) as server:
            server.add_faults(
                {
                    "method": "POST",
                    "path": "/v2/images/generate",
                    "action": "status",
                    "status": 429,
                    "times": 1,
                },
                {
                    "method": "POST",
                    "path": "/v2/images/generate",
                    "action": "status",
                    "status": 503,
                    "times": 1,
                },
            )
            env = dict(
                os.environ,
                AIRFLOW_HOME=str(home),
                AIRFLOW__CORE__DAGS_FOLDER=str(HERE / "cluster_dags"),
                AIRFLOW__CORE__LOAD_EXAMPLES="False",
                AIRFLOW__METRICS__STATSD_ON="True",
                AIRFLOW__METRICS__STATSD_HOST="127.0.0.1",
                AIRFLOW__METRICS__STATSD_PORT=str(listener.port),
                # As a cluster keeps big batches' results: past a threshold (here 256 B), in object storage.
                AIRFLOW__CORE__XCOM_BACKEND="airflow.providers.common.io.xcom.backend.XComObjectStorageBackend",
                AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH=f"file://{tmp_path / 'xcom'}",
                AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD="256",
                AIRFLOW_CONN_APIFRAME_DEFAULT=connection_uri(server.url, max_retries=6),
            )
            airflow = Path(sys.executable).parent / "airflow"
            subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
            done = subprocess.run(
                [sys.executable, HERE / "run_dag.py", "apiframe_metrics"],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert "RESULT " in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
            stats = server.stats()
    finally:
        listener.close()
    apiframe = listener.apiframe_counters()
    # Four jobs made (three rows, one that fails); the fault's 429 and 503 were each retried.
    assert stats["jobs_created"] == 4
    assert apiframe["jobs.submitted.imagen-4"] == 4
    assert apiframe["jobs.completed.imagen-4"] == 3
    assert apiframe["jobs.failed.imagen-4"] == 1
    assert apiframe["credits_spent.imagen-4"] == 21
    assert apiframe["rate_limited.submit"] == 1
    assert apiframe["requests.submit.429"] == 1 and apiframe["requests.submit.503"] == 1
    # The faults answered before a job was made: every 202 is a job.
    assert apiframe["requests.submit.202"] == stats["jobs_created"]
    assert apiframe["retries.submit"] == 2
    # Statuses come by job or by page, as the hub judges cheaper.
    assert apiframe.get("requests.job.200", 0) + apiframe.get("requests.jobs_page.200", 0) >= 2, apiframe
    timers = listener.names("ms")
    assert any(name.endswith("apiframe.retry_wait") for name in timers), timers
    assert any(name.endswith("apiframe.pacing_delay") for name in timers), timers
    gauges = listener.names("g")
    assert any(".apiframe.jobs_waiting." in name for name in gauges), gauges
    assert TEST_KEY not in "\n".join(listener.lines)
    # The batch's results went to object storage: the database holds where, the next task read them.
    stored = [path for path in (tmp_path / "xcom").rglob("*") if path.is_file()]
    assert any('"images"' in path.read_text() for path in stored), stored
    with sqlite3.connect(home / "airflow.db") as db:
        rows = dict(db.execute("SELECT task_id, value FROM xcom WHERE key = 'return_value'"))
    assert "cdn" not in str(rows["batch"]) and "xcom" in str(rows["batch"])
    assert (
        json.loads(rows["count_images"])
        if isinstance(rows["count_images"], str)
        else rows["count_images"] == 3
    )
