"""
Waiting for a job that something else submitted: another DAG, a web app, the vendor's console.

Here a task stands in for that other system and submits with the hook; ``ApiframeJobSensor`` then waits
for the job by id (deferred, so no worker slot is held) and returns its image URLs as the generate
operators do. In a real pipeline the id arrives through XCom from another DAG, a Param or a message.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.sensors.apiframe import ApiframeJobSensor

with DAG(
    dag_id="example_apiframe_sensor",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:

    @task
    def submitted_elsewhere(run_id: str | None = None) -> str:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        return ApiframeHook().submit_generation(
            "imagen-4",
            "A paper boat on a rain puddle, macro photo",
            {"aspect_ratio": "1:1"},
            idempotency_key=f"example-sensor-{run_id}",
        )

    wait = ApiframeJobSensor(
        task_id="wait_for_job",
        job_id="{{ ti.xcom_pull(task_ids='submitted_elsewhere') }}",
        poke_interval=2.0,
        timeout=600,
    )

    @task
    def save_images(urls: list[str], output_dir: str) -> list[str]:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        return ApiframeHook().download_images(urls, output_dir)

    submitted_elsewhere() >> wait
    save_images(wait.output, "{{ params.output_dir }}")
