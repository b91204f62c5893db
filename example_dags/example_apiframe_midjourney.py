"""
A Midjourney grid of four, then its second image upsampled (U2), the way one picks in Discord.

The action names its parent by job id: the grid task pushes it to XCom under ``job_id``. An action the
parent does not offer (``pan`` on a grid, say) fails at once with ``ApiframeConflictError``, without
Airflow retries.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.actions import ApiframeMidjourneyActionOperator
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator

with DAG(
    dag_id="example_apiframe_midjourney",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:
    grid = ApiframeImageGenerateOperator(
        task_id="grid", model="midjourney", prompt="A lighthouse on a cliff at dusk", poll_interval=2.0
    )
    u2 = ApiframeMidjourneyActionOperator(
        task_id="u2",
        action="upsample",
        index=2,
        parent_job_id="{{ ti.xcom_pull(task_ids='grid', key='job_id') }}",
        poll_interval=2.0,
    )
    grid >> u2

    @task
    def save(urls: list[str], output_dir: str) -> list[str]:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        return ApiframeHook().download_images(urls, os.path.join(output_dir, "midjourney"))

    save(u2.output, "{{ params.output_dir }}")
