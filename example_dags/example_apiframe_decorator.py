"""
``@task.apiframe_image``: a Python function writes each prompt, the task generates the image.

The function's return value is the prompt (or a dict with ``prompt`` and options of its own); the
decorator's arguments are the model and its options. Mapped with ``.expand()``, each city gets its own
job, deferred on the triggerer, and the task returns the image URLs.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

CITIES = ["Lisbon", "Kyoto", "Valparaíso"]

with DAG(
    dag_id="example_apiframe_decorator",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:

    @task.apiframe_image(model="imagen-4", aspect_ratio="16:9", output_format="png", poll_interval=2.0)
    def travel_poster(city: str) -> dict[str, str]:
        prompt = f"A vintage travel poster of {city} at dawn, bold flat colours"
        # One city gets a square poster: options returned with the prompt override the decorator's.
        return {"prompt": prompt, "aspect_ratio": "1:1"} if city == "Kyoto" else {"prompt": prompt}

    @task
    def save_images(url_lists: list[list[str]], output_dir: str) -> list[str]:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        # One slice fetches every mapped result; a plain loop asks item by item, and Airflow 3 logs an
        # error for the item past the end.
        urls = [url for urls in url_lists[:] for url in urls]
        return ApiframeHook().download_images(urls, os.path.join(output_dir, "posters"))

    save_images(travel_poster.expand(city=CITIES), "{{ params.output_dir }}")
