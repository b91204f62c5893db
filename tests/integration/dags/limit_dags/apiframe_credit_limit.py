"""A task mapped over 25 prompts, run by two processes at once under one connection's daily credit limit."""

from __future__ import annotations

import os
from datetime import datetime

from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

# Each process draws its own prompts: two runs of one DAG id, in two Airflow homes.
PROCESS = os.environ.get("APIFRAME_LIMIT_PROCESS", "0")

with DAG("apiframe_credit_limit", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    ImagenGenerateOperator.partial(task_id="generate", poll_interval=0.5, retries=0).expand(
        prompt=[f"koi {PROCESS}-{number}" for number in range(25)]
    )
