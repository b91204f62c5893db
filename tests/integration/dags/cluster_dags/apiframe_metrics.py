"""
A batch of three rows, a task that reads its results, and one job of its own: what the cluster-settings
test watches (metrics over StatsD, results through the object-storage XCom backend).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import task

from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

with DAG("apiframe_metrics", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    batch = ImagenBatchGenerateOperator(task_id="batch", prompts=["koi", "heron", "carp"], poll_interval=0.5)

    @task
    def count_images(results: list[dict[str, Any]]) -> int:
        """Read the batch's results back, wherever the XCom backend keeps them."""
        return sum(len(row["images"]) for row in results)

    count_images(batch.output)
    ImagenGenerateOperator(task_id="single", prompt="koi [fail]", poll_interval=0.5, retries=0)
