"""
One prompt -> one Imagen 4 job -> the images saved to a local folder.

The generate task defers while apiframe renders, so no worker slot is held; its return value (the image
URLs) reaches the download task through XCom. Point ``output_dir`` (or ``APIFRAME_OUTPUT_DIR``) where the
files should go.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

with DAG(
    dag_id="example_apiframe_imagen",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={
        "prompt": Param(
            "A serene shallow pool among creek rocks with koi fish, morning light", type="string", minLength=1
        ),
        "output_dir": Param(os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images"), type="string"),
    },
) as dag:
    generate = ImagenGenerateOperator(
        task_id="generate",
        prompt="{{ params.prompt }}",
        aspect_ratio="16:9",
        output_format="png",
        poll_interval=2.0,
        timeout=600,
    )

    @task
    def save_images(urls: list[str], output_dir: str) -> list[str]:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        paths = ApiframeHook().download_images(urls, output_dir)
        print("Saved images:", *paths, sep="\n  ")
        return paths

    save_images(generate.output, "{{ params.output_dir }}")
