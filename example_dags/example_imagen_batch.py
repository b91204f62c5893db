"""
A data-set run: an upstream task produces the rows, one batch task generates them all, then every image
is saved locally next to the row it came from.

The batch holds a worker slot only for a moment: its rows are submitted and waited for on the triggerer,
within the connection's request budget, each under its own idempotency key. Its result is one dict per
row, in order: for thousands of rows, keep XCom out of the metadata database with Airflow's
object-storage XCom backend (see README).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator

SUBJECTS = ["a red fox", "a snowy owl", "a green sea turtle", "a monarch butterfly"]

with DAG(
    dag_id="example_apiframe_imagen_batch",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:

    @task
    def make_rows() -> list[dict[str, Any]]:
        """The data set's rows: each with an id of its own, and options where it needs them."""
        rows: list[dict[str, Any]] = [
            {"id": f"animal-{i:03d}", "prompt": f"Field-guide illustration of {subject}, white background"}
            for i, subject in enumerate(SUBJECTS)
        ]
        rows[0]["aspect_ratio"] = "16:9"  # one row with its own option
        return rows

    generate = ImagenBatchGenerateOperator(
        task_id="generate",
        prompts=make_rows(),
        aspect_ratio="1:1",
        output_format="png",
    )

    @task
    def save_images(rows: list[dict[str, Any]], output_dir: str) -> list[str]:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        hook, paths = ApiframeHook(), []
        for row in rows:
            paths += hook.download_images(row["images"], os.path.join(output_dir, row["id"]))
        print("Saved images:", *paths, sep="\n  ")
        return paths

    save_images(generate.output, "{{ params.output_dir }}")
