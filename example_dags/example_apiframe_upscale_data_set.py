"""
Every image of a stored data set upscaled in one task, into a data set of its own.

The first task makes a small data set (a batch of shots, stored with their manifest); the second reads
that data set's files as its rows (``data_set=``), uploads each file, and runs one upscale job per file
with the batch's guarantees: every row checked first, the cost checked against the balance, one paid job
per file, results in order, each row named after the file it came from.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator

with DAG(
    dag_id="example_apiframe_upscale_data_set",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:
    shots = ApiframeBatchOperator(
        task_id="shots",
        operation="image generation",
        model="flux-1.1-pro",
        rows=[f"A ceramic teapot, product photo, angle {angle}" for angle in (0, 45, 90)],
        options={"width": 512, "height": 512, "output_format": "png"},
        store_to="{{ params.output_dir }}/teapots",
        poll_interval=2.0,
    )
    larger = ApiframeBatchOperator(
        task_id="upscale_all",
        operation="image upscale",
        model="topaz-image-upscale",
        data_set="{{ params.output_dir }}/teapots",
        options={"upscale_factor": 2, "output_format": "png"},
        store_to="{{ params.output_dir }}/teapots_2x",
        max_credits=100,
        poll_interval=2.0,
    )
    shots >> larger
