"""
The other side of ``example_apiframe_dataset_producer``: scheduled on its data set, this DAG runs each time
the producer stores images, reads the asset event's extra (where the images went) and summarises the part
they were stored in from its manifest.

A training job would load the whole data set, every run's part, with no glue code:
``datasets.load_dataset("imagefolder", data_dir=<the asset's folder>, split="train")`` gives the images
and the columns ``prompt``, ``model``, ``options`` (JSON), ``job_id``, ``id``, ``width``, ``height``...
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Asset, ObjectStoragePath, task

# The producer's asset: the same URI.
KOI_DATA_SET = Asset(
    Path(os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images"), "koi_dataset").resolve().as_uri()
)


def summary(extra: dict[str, Any]) -> dict[str, Any]:
    """What the event says, and what the manifest of the part it names holds."""
    rows = []
    if extra.get("manifest"):
        text = ObjectStoragePath(extra["manifest"]).read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines()]
    result = {
        "data_set": extra.get("data_set"),
        "images_stored": extra.get("count", 0),
        "rows_in_part": len(rows),
        "models": dict(Counter(row["model"] for row in rows)),
        "sizes": dict(Counter(f"{row['width']}x{row['height']}" for row in rows)),
        # A job's credits are on each of its images: counted once per job.
        "credits": sum({row["job_id"]: row["credits"] for row in rows}.values()),
    }
    print("Data set updated:", json.dumps(result, indent=2), sep="\n")
    return result


with DAG(
    dag_id="example_apiframe_dataset_consumer",
    start_date=datetime(2026, 1, 1),
    schedule=[KOI_DATA_SET],
    catchup=False,
    tags=["example", "apiframe"],
) as dag:

    @task
    def summarize(
        triggering_asset_events: Any = None, triggering_dataset_events: Any = None
    ) -> list[dict[str, Any]]:
        # Airflow 3 hands the events over as triggering_asset_events, Airflow 2 as triggering_dataset_events.
        events = triggering_asset_events or triggering_dataset_events or {}
        summaries = [summary(event.extra) for per_asset in events.values() for event in per_asset]
        if not summaries:
            print("No data set event: this run was not triggered by the producer.")
        return summaries

    summarize()
