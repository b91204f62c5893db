"""A batch of any operation: rows of options or of inputs, files uploaded once, results in order."""

from __future__ import annotations

import pytest
from PIL import Image

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator
from tests.batch.test_batch_operator import run_to_end
from tests.conftest import TEST_KEY, connection_uri
from tests.emulator.media_checks import fetch, open_image, read_mp4
from tests.operators.test_imagen import TaskInstance


@pytest.fixture
def fast_conn(apiframe_emulator_factory, monkeypatch):
    """An emulator with room for a thousand jobs, and a connection that does not pace its requests."""
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=0.3, credits=100_000)
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url, rate_limit_per_minute=0, max_retries=3)
    )
    return server


def picture(path, colour="orange"):
    Image.new("RGB", (64, 48), colour).save(path, "PNG")
    return path


def test_an_upscale_batch_takes_urls_files_and_dicts_and_keeps_their_order(fast_conn, tmp_path):
    local = picture(tmp_path / "a.png")
    other = picture(tmp_path / "b.png", "navy")
    web = run_to_end(
        ApiframeBatchOperator(
            task_id="shots",
            operation="image generation",
            model="flux-1.1-pro",
            rows=["a teapot"],
            poll_interval=0.3,
        ),
        {"ti": TaskInstance(task_id="shots")},
    )[0]["images"][0]
    op = ApiframeBatchOperator(
        task_id="upscale",
        operation="/v2/images/upscale",
        model="topaz-image-upscale",
        rows=[web, str(local), {"image": str(local), "id": "again", "upscale_factor": 4}, {"image": other}],
        options={"upscale_factor": 2, "output_format": "png"},
        poll_interval=0.3,
    )
    results = run_to_end(op, {"ti": TaskInstance(task_id="upscale")})
    assert [r["id"] for r in results] == [None, None, "again", None]
    assert all(r["status"] == "COMPLETED" and len(r["images"]) == 1 for r in results)
    widths = [open_image(fetch(r["images"][0]).content).width for r in results]
    assert widths[1] == 128 and widths[2] == 256 and widths[3] == 128  # 64 px, twice or four times
    stats = fast_conn.stats()
    # Two distinct local files: two uploads, though three rows name them.
    assert stats["uploads"] == 2 and stats["jobs_created"] == 1 + 4


def test_a_thousand_rows_sharing_one_file_upload_it_once(fast_conn, tmp_path):
    source = picture(tmp_path / "product.png")
    rows = [{"id": f"row-{i:04d}", "content_moderation": i % 2 == 0} for i in range(1000)]
    op = ApiframeBatchOperator(
        task_id="cutouts",
        operation="background removal",
        model="bria-bg-remove",
        rows=rows,
        options={"image": str(source)},
        poll_interval=0.5,
        timeout=600,
    )
    results = run_to_end(op, {"ti": TaskInstance(task_id="cutouts")})
    assert len(results) == 1000 and all(r["status"] == "COMPLETED" for r in results)
    assert [r["id"] for r in results] == [row["id"] for row in rows]
    stats = fast_conn.stats()
    assert stats["uploads"] == 1 and stats["jobs_created"] == 1000


def test_a_video_batch_gives_one_clip_per_row_under_videos(fast_conn):
    op = ApiframeBatchOperator(
        task_id="clips",
        operation="video generation",
        model="veo-3",
        rows=["waves at dawn", {"prompt": "a harbour at night", "id": "night", "duration": 4}],
        options={"duration": 6},
        poll_interval=0.3,
    )
    results = run_to_end(op, {"ti": TaskInstance(task_id="clips")})
    assert [r["id"] for r in results] == [None, "night"]
    seconds = [read_mp4(fetch(r["videos"][0]).content).seconds for r in results]
    assert seconds == [pytest.approx(6, abs=0.6), pytest.approx(4, abs=0.6)]


def test_a_bad_file_is_named_by_its_row_before_anything_is_sent(fast_conn, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    # A path is read where the task runs, not where the DAG is parsed: the operator is built.
    op = ApiframeBatchOperator(
        task_id="upscale",
        operation="image upscale",
        model="clarity-upscale",
        rows=["https://example.org/a.png", str(text)],
    )
    with pytest.raises(ApiframeValidationError) as info:
        run_to_end(op, {"ti": TaskInstance(task_id="upscale")})
    message = str(info.value)
    assert "1 of 2 rows are invalid" in message
    assert "rows[1].clarityUpscaleParams.image" in message and "not a file the API takes" in message
    assert fast_conn.stats()["submits"] == 0 and fast_conn.stats()["uploads"] == 0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"operation": "image sharpening"}, "known operations are"),
        ({"operation": "Midjourney action", "model": "upsample"}, "one task per action"),
        (
            {"rows": [{"image": "https://example.org/a.png", "upscale_factor": 3}]},
            "rows[0].topazUpscaleParams",
        ),
        ({"rows": [7]}, "a dict of options, or its image"),
    ],
)
def test_a_literal_mistake_fails_the_dag_import(kwargs, needle):
    arguments = {
        "task_id": "b",
        "operation": "image upscale",
        "model": "topaz-image-upscale",
        "rows": ["https://example.org/a.png"],
        **kwargs,
    }
    with pytest.raises(ApiframeValidationError) as info:
        ApiframeBatchOperator(**arguments)
    assert needle in str(info.value)


def test_every_image_of_a_stored_data_set_is_upscaled_in_one_batch(fast_conn, tmp_path):
    stored = tmp_path / "shots"
    made = run_to_end(
        ApiframeBatchOperator(
            task_id="shots",
            operation="image generation",
            model="flux-1.1-pro",
            rows=[{"prompt": f"a teapot, view {i}", "id": i} for i in range(3)],
            options={"width": 256, "height": 256, "output_format": "png"},
            store_to=str(stored),
            poll_interval=0.3,
        ),
        {"ti": TaskInstance(task_id="shots")},
    )
    op = ApiframeBatchOperator(
        task_id="upscale_all",
        operation="image upscale",
        model="topaz-image-upscale",
        data_set=str(stored),
        options={"upscale_factor": 2},
        store_to=str(tmp_path / "larger"),
        poll_interval=0.3,
    )
    results = run_to_end(op, {"ti": TaskInstance(task_id="upscale_all")})
    # One row per stored file, named by it.
    assert sorted(r["id"] for r in results) == sorted(f"{m['job_id']}-1" for m in made)
    sizes = {Image.open(path).size for r in results for path in r["paths"]}
    assert sizes == {(512, 512)}
    assert fast_conn.stats()["uploads"] == 3


def test_a_data_set_batch_names_what_is_wrong(fast_conn, tmp_path):
    with pytest.raises(ApiframeValidationError, match="either rows or data_set"):
        ApiframeBatchOperator(task_id="b", operation="image upscale", model="clarity-upscale")
    with pytest.raises(ApiframeValidationError, match="another folder than data_set"):
        ApiframeBatchOperator(
            task_id="b", operation="image upscale", model="clarity-upscale", data_set="/d", store_to="/d"
        )
    empty = ApiframeBatchOperator(
        task_id="b", operation="image upscale", model="clarity-upscale", data_set=str(tmp_path)
    )
    with pytest.raises(ApiframeValidationError, match="holds no image file"):
        run_to_end(empty, {"ti": TaskInstance(task_id="b")})
    assert fast_conn.stats()["submits"] == 0
