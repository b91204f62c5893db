"""A long job for tests/dags/test_triggerer_restart.py: the triggerer is killed while it polls."""

from __future__ import annotations

import json
import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

with DAG(dag_id="apiframe_restart", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    generate = ImagenGenerateOperator(task_id="generate", prompt="koi through a restart", poll_interval=1.0)

    @task
    def record(urls: list[str]) -> None:
        with open(os.environ["APIFRAME_RESTART_RESULT"], "w") as handle:
            json.dump(urls, handle)

    record(generate.output)
