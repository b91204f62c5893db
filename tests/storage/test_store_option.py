"""``store_to`` on the generate and batch operators: the images kept in a data set as the task ends."""

from __future__ import annotations

import json

import datasets

from airflow_provider_apiframe.operators.batch import ApiframeBatchGenerateOperator
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator
from tests.batch.test_batch_operator import batch_conn, run_to_end  # noqa: F401 - the fixture
from tests.operators.test_imagen import TaskInstance


def manifest_rows(folder):
    return [
        json.loads(line) for path in folder.rglob("metadata.jsonl") for line in path.read_text().splitlines()
    ]


def test_generate_returns_the_stored_paths_with_prompt_and_options_beside(apiframe_conn, tmp_path):
    op = ApiframeImageGenerateOperator(
        task_id="generate",
        model="flux-1.1-pro",
        prompt="a green circle",
        image_options={"width": 512, "height": 256, "output_format": "png"},
        store_to=f"file://{tmp_path}/circles",
        deferrable=False,
        poll_interval=0.2,
    )
    ti = TaskInstance()
    [path] = op.execute({"ti": ti})
    assert path.startswith(f"file://{tmp_path}/circles/part-") and path.endswith(".png")
    [row] = manifest_rows(tmp_path / "circles")
    assert (row["prompt"], row["model"], row["job_id"]) == (
        "a green circle",
        "flux-1.1-pro",
        ti.xcom["job_id"],
    )
    assert json.loads(row["options"]) == {"width": 512, "height": 256, "output_format": "png"}
    assert (row["width"], row["height"]) == (512, 256)
    # The link still opens the image on the CDN, where the browser can reach it.
    assert ti.xcom["image_url"] == row["source_url"]
    assert ti.xcom["credit_cost"] == row["credits"] > 0
    # Lineage names both the CDN folder and the data set's part.
    outputs = {(d.namespace, d.name) for d in op.get_openlineage_facets_on_complete(None).outputs}
    assert ("file://", path.removeprefix("file://").rsplit("/", 1)[0]) in outputs


def test_a_stored_batch_loads_as_a_data_set_with_its_row_ids(batch_conn, tmp_path):  # noqa: F811
    op = ApiframeBatchGenerateOperator(
        task_id="batch",
        model="imagen-4",
        prompts=[
            {"prompt": "koi", "id": "koi-1"},
            {"prompt": "heron", "id": "heron-1", "aspect_ratio": "16:9"},
        ],
        store_to=str(tmp_path / "birds"),
        poll_interval=0.5,
    )
    results = run_to_end(op, {"ti": TaskInstance()})
    # A local folder given, local paths back (not file:// URLs).
    assert all(len(r["paths"]) == 1 and r["paths"][0].endswith(".jpg") for r in results)
    assert all(r["paths"][0].startswith(f"{tmp_path}/birds/part-") for r in results)
    loaded = datasets.load_dataset(
        "imagefolder", data_dir=str(tmp_path / "birds"), split="train", cache_dir=str(tmp_path / "cache")
    )
    by_id = {row["id"]: row for row in loaded}
    assert set(by_id) == {"koi-1", "heron-1"}
    assert by_id["heron-1"]["image"].size == (1408, 768) and by_id["koi-1"]["prompt"] == "koi"
