"""OpenLineage datasets from what a task generated or stored; nothing at all without the provider."""

from __future__ import annotations

import sys

from airflow_provider_apiframe.lineage import generation_lineage, store_lineage


def names(datasets):
    return [(d.namespace, d.name) for d in datasets]


def counts(datasets):
    return [d.outputFacets["outputStatistics"].rowCount for d in datasets]


def test_images_are_reported_by_folder_with_their_count():
    images = [f"https://cdn2.apiframe.ai/images/{i}-1.png" for i in range(3)] + [
        "https://cdn3.apiframe.ai/x/1.jpg"
    ]
    lineage = generation_lineage("https://api.apiframe.ai/", "flux-1.1-pro", images)
    assert names(lineage.inputs) == [("https://api.apiframe.ai", "models/flux-1.1-pro")]
    assert names(lineage.outputs) == [
        ("https://cdn2.apiframe.ai", "/images"),
        ("https://cdn3.apiframe.ai", "/x"),
    ]
    assert counts(lineage.outputs) == [3, 1]


def test_a_store_reads_cdn_folders_and_writes_storage_folders():
    lineage = store_lineage(
        ["https://cdn2.apiframe.ai/images/a-1.png", "https://cdn2.apiframe.ai/images/b-1.png"],
        ["s3://bucket/koi/run=1/a-1.png", "s3://bucket/koi/run=1/b-1.png", "file:///data/koi/c-1.png"],
    )
    assert names(lineage.inputs) == [("https://cdn2.apiframe.ai", "/images")]
    assert names(lineage.outputs) == [("s3://bucket", "/koi/run=1"), ("file://", "/data/koi")]
    assert counts(lineage.outputs) == [2, 1]


def test_without_the_openlineage_provider_there_is_no_lineage(monkeypatch):
    # What an environment without the provider sees: the import fails.
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    assert generation_lineage("https://api.apiframe.ai", "imagen-4", ["https://cdn/x/1.png"]) is None
    assert store_lineage(["https://cdn/x/1.png"], ["file:///d/1.png"]) is None


def test_the_operator_reports_what_its_job_produced(apiframe_conn):
    from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator
    from tests.operators.test_imagen import TaskInstance

    op = ApiframeImageGenerateOperator(
        task_id="generate", model="imagen-4", prompt="koi", deferrable=False, poll_interval=0.2
    )
    urls = op.execute({"ti": TaskInstance()})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [(apiframe_conn.url, "models/imagen-4")]
    assert names(lineage.outputs) == [(apiframe_conn.url, "/cdn/images")] and len(urls) == 1
