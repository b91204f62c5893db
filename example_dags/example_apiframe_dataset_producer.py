"""
A training data set kept by one DAG and used by another: this one generates a few images and stores them,
with their prompts and options, in a Hugging Face ``imagefolder`` data set of your own storage.

``ApiframeStoreImagesOperator`` reads each finished job, streams its images from apiframe's CDN (purged 24
hours after the job) into ``<data set>/part-<hex>/`` and writes that part's ``metadata.jsonl``. Each run
adds a part, so the data set grows run after run and ``datasets.load_dataset("imagefolder",
data_dir=<data set>)`` loads them all. The store task's outlet asset gets an event whose extra names the new
images and their manifest; ``example_apiframe_dataset_consumer`` is scheduled on it.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.providers.common.compat.sdk import DAG, Asset

from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.store import ApiframeStoreImagesOperator

# An asset is named when the file is parsed, so its folder comes from the environment rather than a Param;
# any object-storage URL works as well (s3://bucket/koi, with destination_conn_id for its credentials).
KOI_DATA_SET = Asset(
    Path(os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images"), "koi_dataset").resolve().as_uri()
)
SCENES = ["at dawn under lotus leaves", "in a moss-lined stone pond", "seen from above in clear water"]

with DAG(
    dag_id="example_apiframe_dataset_producer",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
) as dag:
    generate = ImagenBatchGenerateOperator(
        task_id="generate",
        prompts=[
            {"id": f"koi-{number}", "prompt": f"Koi fish {scene}, photograph"}
            for number, scene in enumerate(SCENES, start=1)
        ],
        aspect_ratio="1:1",
        output_format="png",
    )

    ApiframeStoreImagesOperator(
        task_id="store",
        jobs=generate.output,  # the batch's rows: their ids become the manifest's id column
        destination=KOI_DATA_SET.uri,
        outlets=[KOI_DATA_SET],
    )
