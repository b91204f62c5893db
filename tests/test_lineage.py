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
    # What the job cost, as the API charged it, rides along as a run facet.
    spend = lineage.run_facets["apiframe_spend"]
    assert (spend.credits, spend.model) == (7, "imagen-4")


def test_a_batch_reports_what_its_rows_cost_in_its_xcom_log_and_lineage(apiframe_conn, caplog, capsys):
    from airflow_provider_apiframe.operators.batch import ApiframeBatchGenerateOperator
    from tests.batch.test_batch_operator import run_to_end
    from tests.operators.test_imagen import TaskInstance

    op = ApiframeBatchGenerateOperator(
        task_id="batch",
        model="gpt-image-1.5",
        prompts=[{"prompt": "koi", "number_of_images": 3}, "heron"],
        poll_interval=0.2,
    )
    ti = TaskInstance(task_id="batch")
    with caplog.at_level("INFO"):
        results = run_to_end(op, {"ti": ti})
    charged = sum(result["credit_cost"] for result in results)
    assert ti.xcom["credit_cost"] == charged == 4 * results[1]["credit_cost"]
    # The log's last line: Airflow 3 logs through structlog to the output, Airflow 2 through logging.
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    last = printed[-1] if printed else caplog.messages[-1]
    assert f"apiframe: this task spent {charged} credits" in last
    assert op.get_openlineage_facets_on_complete(None).run_facets["apiframe_spend"].credits == charged
