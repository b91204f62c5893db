"""
DAGs of the topology test and benchmark (tests/integration/dags/test_topology.py, benchmarks/topology.py):
batches submitted in chunks on the triggerers and a mapped task waiting on the Celery workers, all
through one connection (one key, one budget in Redis). Sizes come from the processes' environment.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

ROWS = int(os.environ.get("APIFRAME_TOPOLOGY_ROWS", "1"))
CHUNK = int(os.environ.get("APIFRAME_TOPOLOGY_CHUNK", "500"))
MAPPED = int(os.environ.get("APIFRAME_TOPOLOGY_MAPPED", "1"))
# The rows as this many batches at once (every batch-th row in each).
BATCHES = int(os.environ.get("APIFRAME_TOPOLOGY_BATCHES", "1"))
RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=1)}


def report(name: str, value: Any) -> None:
    """What a run ended with, for the test to read: a JSON file in the folder it names."""
    (Path(os.environ["APIFRAME_TOPOLOGY_RESULTS"]) / f"{name}.json").write_text(json.dumps(value))


@task
def count_images(results: list[dict[str, Any]], name: str) -> None:
    """Read a batch's results back through the XCom backend; say which rows have an image."""
    report(name, {row["id"]: len(row["images"]) for row in results})


with DAG("apiframe_topology_batch", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    for number in range(BATCHES):
        name = "batch" if BATCHES == 1 else f"batch_{number}"
        batch = ImagenBatchGenerateOperator(
            task_id=name,
            prompts=[
                {"id": f"row-{i}", "prompt": f"koi number {i}, ink on rice paper"}
                for i in range(number, ROWS, BATCHES)
            ],
            poll_interval=1.0,
            **RETRIES,
        )
        batch.submit_chunk = CHUNK
        count_images.override(task_id=f"count_{name}")(batch.output, name)


with DAG("apiframe_topology_mapped", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    # Waiting in the worker, so that a worker killed mid-task takes a task's process with it.
    ImagenGenerateOperator.partial(task_id="generate", deferrable=False, poll_interval=1.0, **RETRIES).expand(
        prompt=[f"heron number {i}, woodcut" for i in range(MAPPED)]
    )
