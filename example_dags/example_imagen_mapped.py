"""
Several prompts, one mapped task instance each, all deferred at once; then every image saved locally.

Each mapped instance has its own idempotency key (the map index is part of it), so a retry of one
instance never pays again for its own image nor takes another instance's.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

PROMPTS = [
    "A lighthouse on a cliff at dusk, oil painting",
    "A bowl of ramen seen from above, studio photo",
    "An isometric pixel-art greenhouse full of plants",
]

with DAG(
    dag_id="example_apiframe_imagen_mapped",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:

    @task
    def check_credits(prompts: list[str]) -> int:
        """Fail the whole batch before its first submit when the balance cannot pay for all of it."""
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        return ApiframeHook().ensure_credits("imagen-4", len(prompts))

    generate = ImagenGenerateOperator.partial(
        task_id="generate",
        aspect_ratio="1:1",
        output_format="jpg",
        poll_interval=2.0,
    ).expand(prompt=PROMPTS)

    @task
    def save_images(url_lists: list[list[str]], output_dir: str) -> list[str]:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        # One slice fetches every mapped result; a plain loop asks item by item, and Airflow 3 logs an
        # error for the item past the end.
        urls = [url for urls in url_lists[:] for url in urls]
        paths = ApiframeHook().download_images(urls, output_dir)
        print("Saved images:", *paths, sep="\n  ")
        return paths

    check_credits(PROMPTS) >> generate
    save_images(generate.output, "{{ params.output_dir }}")
