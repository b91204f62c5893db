"""A batch of three rows and one job of its own: what the metrics test watches arrive over StatsD."""

from __future__ import annotations

from datetime import datetime

from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

with DAG("apiframe_metrics", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    ImagenBatchGenerateOperator(task_id="batch", prompts=["koi", "heron", "carp"], poll_interval=0.5)
    ImagenGenerateOperator(task_id="single", prompt="koi [fail]", poll_interval=0.5, retries=0)
