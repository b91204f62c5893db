"""
A content pipeline with a person in it: generate shots, stage them, let a reviewer pick, publish the picks.

1. ``generate`` makes six product shots in one batch and stores them (the stored copies, not the CDN's
   URLs, which expire 24 hours after each job) in the staging data set ``<output_dir>/review/staging``.
2. ``review_page`` writes the review's Markdown: each shot under its option's name, with its prompt and
   the image itself, at a URL the reviewer's browser can load (``storage/review_urls.py``): served by the
   provider's API-server plugin for a local folder, presigned for S3, GCS or Azure.
3. ``review`` (the standard provider's ``HITLOperator``, ``multiple=True``) waits, holding no worker
   slot, until someone answers on the run's Required Actions page: the shots are on the page, the options
   below them, one per shot; the reviewer picks any number and clicks Respond.
4. ``publish`` copies exactly the picked shots, with their manifest rows, into the published data set
   ``<output_dir>/review/published``: one part per run, so answering again (after clearing ``review``)
   replaces that run's picks.

Needs Airflow 3.1+ with ``apache-airflow-providers-standard`` (the Human-in-the-loop operators). For local
storage, the API server must be able to read the staging folder and be told it may serve it:
``AIRFLOW__APIFRAME__REVIEW_ROOTS=<output_dir>/review/staging`` (the images are only served to signed-in
Airflow users, and only files the staging manifests list). On Airflow 2 this file still parses: its one
task fails, saying what the review needs.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow import __version__ as airflow_version
from airflow.providers.common.compat.sdk import (
    DAG,
    AirflowFailException,
    AirflowOptionalProviderFeatureException,
    task,
)

from airflow_provider_apiframe.operators.batch import ApiframeBatchGenerateOperator

try:
    from airflow.providers.standard.operators.hitl import HITLOperator
except (ImportError, AirflowOptionalProviderFeatureException):  # Airflow < 3.1, or no standard provider
    HITLOperator = None

NEEDS = (
    "Human review needs Airflow 3.1+ with apache-airflow-providers-standard installed (its "
    "Human-in-the-loop operators, and the Required Actions page where the reviewer picks)"
)
# One option per shot: its name is what the reviewer ticks, and the batch row's id.
SHOTS = {
    "studio": "A ceramic teapot on a plain white table, studio light, product photo",
    "marble": "A ceramic teapot on grey marble, soft window light, product photo",
    "kitchen": "A ceramic teapot in a sunlit kitchen, shallow depth of field",
    "flat-lay": "A ceramic teapot seen from above on linen, flat lay",
    "low-key": "A ceramic teapot on slate, dramatic low-key light",
    "pastel": "A ceramic teapot on a pastel backdrop with playful shadows",
}
# How long the reviewer has; the images' URLs outlive it by a margin (presigned ones expire).
REVIEW_TIME = timedelta(days=3)

with DAG(
    dag_id="example_apiframe_review",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
    doc_md=__doc__,
) as dag:
    if HITLOperator is None:

        @task
        def review_needs_airflow_3_1() -> None:
            raise AirflowFailException(f"{NEEDS}; this is Airflow {airflow_version}")

        review_needs_airflow_3_1()
    else:
        generate = ApiframeBatchGenerateOperator(
            task_id="generate",
            model="flux-1.1-pro",
            prompts=[{"id": name, "prompt": prompt} for name, prompt in SHOTS.items()],
            image_options={"width": 768, "height": 768, "output_format": "png"},
            store_to="{{ params.output_dir }}/review/staging",
            poll_interval=2.0,
        )

        @task
        def review_page(results: list[dict[str, Any]]) -> str:
            """Write the review's Markdown: the shots in a grid, each under its option's name."""
            from airflow_provider_apiframe.storage.data_set import read_files
            from airflow_provider_apiframe.storage.review_urls import (
                markdown_image,
                markdown_text,
                review_url,
            )

            # Each stored file's manifest row gives its digest, which the image's URL names.
            rows = {f.path: f.row for f in read_files([path for r in results for path in r["paths"]])}

            def cell(result: dict[str, Any]) -> str:
                return " ".join(
                    markdown_image(result["id"], review_url(path, rows[path].sha256, expires_in=REVIEW_TIME))
                    for path in result["paths"]
                )

            # A table per three shots: names, images, prompts (GitHub-flavoured Markdown, as the UI renders).
            tables = [
                "\n".join(
                    "| " + " | ".join(cells) + " |"
                    for cells in (
                        [f"**{markdown_text(r['id'])}**" for r in group],
                        [":-:"] * len(group),
                        [cell(r) for r in group],
                        [markdown_text(r["prompt"]) for r in group],
                    )
                )
                for group in (results[i : i + 3] for i in range(0, len(results), 3))
            ]
            intro = (
                "Pick the shots to publish under **Options**, then click **Respond**; the others stay staged."
            )
            return "\n\n".join([intro, *tables])

        review = HITLOperator(
            task_id="review",
            subject="Which teapot shots go out?",
            body=review_page(generate.output),
            options=list(SHOTS),
            multiple=True,
            response_timeout=REVIEW_TIME - timedelta(hours=1),
        )

        @task
        def publish(results: list[dict[str, Any]], answer: dict[str, Any], **context: Any) -> list[str]:
            """Copy the chosen shots, with their manifest rows, into the published data set."""
            from airflow_provider_apiframe.storage.data_set import read_files
            from airflow_provider_apiframe.storage.publish import copy_files

            chosen = set(answer["chosen_options"])
            files = read_files([p for r in results if r["id"] in chosen for p in r["paths"]])
            ti = context["ti"]
            published = copy_files(
                files,
                f"{context['params']['output_dir']}/review/published",
                # One part per run: answering again replaces this run's picks, never another run's.
                writer=f"review:{ti.dag_id}:{ti.run_id}",
            )
            return [listed.path for listed in published]

        publish(generate.output, review.output)
