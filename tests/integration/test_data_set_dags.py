"""The producer and consumer example DAGs: both parse, and the producer, run for real (``dag.test()`` on a
migrated Airflow with every example DAG serialized, as a scheduler would have them), stores a data set that
loads, records an asset event carrying its extra, and queues the consumer, whose task summarises it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer
from tests.conftest import TEST_KEY, assert_key_in_no_file, connection_uri
from tests.storage.conftest import load_data_set

ROOT = Path(__file__).resolve().parents[2]
PRODUCER, CONSUMER = "example_apiframe_dataset_producer", "example_apiframe_dataset_consumer"
# Airflow 2 calls assets datasets, in its tables as in its context.
ASSET = "dataset" if airflow_version.startswith("2.") else "asset"


def example_dags(output: Path, monkeypatch) -> dict:
    from airflow.models import DagBag

    monkeypatch.setenv("APIFRAME_OUTPUT_DIR", str(output))
    bag = DagBag(dag_folder=str(ROOT / "example_dags"))
    mine = {path: error for path, error in bag.import_errors.items() if "example_apiframe_dataset" in path}
    assert mine == {}
    return bag.dags


@pytest.fixture(scope="module")
def producer_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("example-data-set")
    home, output = tmp / "home", tmp / "output"
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # Unpaused, so that the producer's event queues a run of the consumer.
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        APIFRAME_OUTPUT_DIR=str(output),
    )
    airflow = Path(sys.executable).parent / "airflow"
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run([airflow, *command], env=env, check=True, capture_output=True, timeout=300)
    with EmulatorServer(EmulatorConfig(api_keys=(TEST_KEY,), job_duration=0.5)) as server:
        env["AIRFLOW_CONN_APIFRAME_DEFAULT"] = connection_uri(server.url)
        done = subprocess.run(
            [sys.executable, ROOT / "tests" / "integration" / "dags" / "run_dag.py", PRODUCER],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    [result] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")] or [
        done.stderr[-4000:]
    ]
    with sqlite3.connect(home / "airflow.db") as db:
        events = db.execute(f"SELECT extra FROM {ASSET}_event").fetchall()
        queued = db.execute(f"SELECT target_dag_id FROM {ASSET}_dag_run_queue").fetchall()
    yield SimpleNamespace(
        result=json.loads(result.removeprefix("RESULT ")),
        output=output,
        events=[json.loads(extra) for (extra,) in events],
        queued=queued,
        log=done.stdout + done.stderr,
    )
    assert_key_in_no_file(home)
    assert_key_in_no_file(output)


def test_both_dags_parse_and_the_consumer_is_scheduled_on_the_producers_data_set(tmp_path, monkeypatch):
    dags = example_dags(tmp_path, monkeypatch)
    [outlet] = dags[PRODUCER].get_task("store").outlets
    assert outlet.uri == (tmp_path / "koi_dataset").as_uri()
    condition = getattr(dags[CONSUMER].timetable, f"{ASSET}_condition")
    assert [entry.uri for entry in condition.objects] == [outlet.uri]


def test_the_producer_stores_a_data_set_and_announces_it(producer_run, tmp_path):
    assert producer_run.result["state"] == "success", producer_run.log[-4000:]
    assert TEST_KEY not in producer_run.log
    [extra] = producer_run.events
    data_set = producer_run.output / "koi_dataset"
    assert extra["data_set"] == data_set.as_uri() and (extra["count"], extra["skipped"]) == (3, 0)
    assert all(Path(path.removeprefix("file://")).is_file() for path in extra["paths"])
    assert producer_run.queued == [("example_apiframe_dataset_consumer",)]
    loaded = load_data_set(data_set, tmp_path / "cache")
    assert sorted(loaded["id"]) == ["koi-1", "koi-2", "koi-3"]
    assert {example["image"].size for example in loaded} == {(1024, 1024)}


def test_the_consumer_summarises_the_event_it_is_given(producer_run, monkeypatch):
    dags = example_dags(producer_run.output, monkeypatch)
    summarize = dags[CONSUMER].get_task("summarize").python_callable
    [extra] = producer_run.events
    asset = dags[PRODUCER].get_task("store").outlets[0]

    summaries = summarize(**{f"triggering_{ASSET}_events": {asset: [SimpleNamespace(extra=extra)]}})

    assert summaries == [
        {
            "data_set": extra["data_set"],
            "images_stored": 3,
            "rows_in_part": 3,
            "models": {"imagen-4": 3},
            "sizes": {"1024x1024": 3},
            "credits": 21,
        }
    ]
    assert summarize() == []
