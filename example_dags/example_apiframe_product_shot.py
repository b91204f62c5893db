"""
A product shot in three jobs: generate it, upscale it, cut it out of its background, keep the result.

Each operator takes the one before's output (a list of one image URL) as its input ``image``: Airflow
passes it at run time and orders the tasks from it. Only the last image is kept, in a data set of your
own with its manifest: the CDN's copies of the intermediate steps expire after 24 hours.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.image_edits import (
    ApiframeBackgroundRemoveOperator,
    ApiframeImageUpscaleOperator,
)

with DAG(
    dag_id="example_apiframe_product_shot",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:
    shot = ApiframeImageGenerateOperator(
        task_id="shot",
        model="flux-1.1-pro",
        prompt="A ceramic teapot on a plain white table, studio light, product photo",
        image_options={"width": 768, "height": 768, "output_format": "png"},
        poll_interval=2.0,
    )
    larger = ApiframeImageUpscaleOperator(
        task_id="upscale",
        model="topaz-image-upscale",
        options={"image": shot.output, "upscale_factor": 2, "output_format": "png"},
        poll_interval=2.0,
    )
    cut_out = ApiframeBackgroundRemoveOperator(
        task_id="remove_background",
        model="bria-bg-remove",
        options={"image": larger.output},
        store_to="{{ params.output_dir }}/product_shots",
        poll_interval=2.0,
    )

    @task
    def spend(ti: Any = None) -> dict[str, int]:
        """What the run spent, task by task and in all: each apiframe task's ``credit_cost`` XCom."""
        from airflow_provider_apiframe.spending.report import run_credits

        return run_credits(ti, ["shot", "upscale", "remove_background"])

    cut_out >> spend()
