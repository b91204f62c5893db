"""Edit, upscale, background removal and Midjourney actions: faces over the job core, against the emulator."""

from __future__ import annotations

import asyncio
import io
import urllib.request

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from PIL import Image

from airflow_provider_apiframe.exceptions import ApiframeConflictError, ApiframeValidationError
from airflow_provider_apiframe.operators.actions import ApiframeMidjourneyActionOperator
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.image_edits import (
    ApiframeBackgroundRemoveOperator,
    ApiframeImageEditOperator,
    ApiframeImageUpscaleOperator,
)
from tests.operators.test_imagen import TaskInstance, first_event


def run(op, ti=None):
    """Run the operator as Airflow would: execute, then the trigger, then execute_complete."""
    ti = ti or TaskInstance(task_id=op.task_id)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    return op.execute_complete({"ti": ti}, asyncio.run(first_event(deferred.value.trigger)))


def opened(url):
    with urllib.request.urlopen(url) as answer:
        data = answer.read()
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_file(path, size=(96, 64)):
    Image.new("RGB", size, "orange").save(path, "PNG")
    return path


@pytest.fixture
def picture(apiframe_conn):
    """The URL of an image a generation made."""
    op = ApiframeImageGenerateOperator(
        task_id="shot",
        model="flux-1.1-pro",
        prompt="a teapot",
        image_options={"width": 512, "height": 512},
        poll_interval=0.2,
    )
    [url] = run(op)
    return url


def test_upscale_returns_a_larger_image(apiframe_conn, picture):
    op = ApiframeImageUpscaleOperator(
        task_id="upscale",
        model="topaz-image-upscale",
        options={"image": picture, "upscale_factor": 2, "output_format": "png"},
        poll_interval=0.2,
    )
    [url] = run(op)
    image = opened(url)
    assert image.format == "PNG" and image.size[0] > 512


def test_background_removal_returns_an_image_with_alpha(apiframe_conn, picture):
    op = ApiframeBackgroundRemoveOperator(
        task_id="cutout", model="bria-bg-remove", options={"image": [picture]}, poll_interval=0.2
    )
    [url] = run(op)
    assert opened(url).mode in ("RGBA", "LA")


def test_edit_from_a_local_file_uploads_it_once_then_submits(apiframe_conn, tmp_path):
    source = png_file(tmp_path / "product.png")

    def edit(task_id):
        return ApiframeImageEditOperator(
            task_id=task_id,
            model="flux-fill-pro",
            options={"image": str(source), "prompt": "a red hat", "mode": "inpaint", "output_format": "jpg"},
            poll_interval=0.2,
        )

    [url] = run(edit("edit"))
    assert opened(url).format == "JPEG"
    # The same bytes in a second task: the upload still lives, so it is not sent again.
    run(edit("edit-again"))
    stats = apiframe_conn.stats()
    assert stats["uploads"] == 1 and stats["jobs_created"] == 2


def test_a_retried_try_with_a_local_file_gets_the_same_job(apiframe_conn, tmp_path):
    source = png_file(tmp_path / "product.png")
    first, second = TaskInstance(task_id="upscale"), TaskInstance(task_id="upscale")
    for ti in (first, second):
        op = ApiframeImageUpscaleOperator(
            task_id="upscale", model="clarity-upscale", options={"image": source}, poll_interval=0.2
        )
        with pytest.raises(TaskDeferred):
            op.execute({"ti": ti})
    assert first.xcom["job_id"] == second.xcom["job_id"]
    assert apiframe_conn.stats()["jobs_created"] == 1


def test_a_text_file_given_as_an_image_is_refused_before_any_request(apiframe_conn, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    op = ApiframeImageUpscaleOperator(
        task_id="upscale", model="clarity-upscale", options={"image": str(text)}
    )
    with pytest.raises(ApiframeValidationError) as info:
        op.execute({"ti": TaskInstance()})
    assert "options['image']" in str(info.value) and "not a file the API takes" in str(info.value)
    stats = apiframe_conn.stats()
    assert stats["uploads"] == 0 and stats["submits"] == 0


def test_a_literal_mistake_fails_the_dag_import():
    with pytest.raises(ApiframeValidationError) as info:
        ApiframeImageUpscaleOperator(
            task_id="upscale", model="topaz-image-upscale", options={"image": "x.png", "upscale_factor": 3}
        )
    assert "options['upscale_factor']" in str(info.value) and "one of 1, 2, 4, 6" in str(info.value)


def midjourney_grid():
    op = ApiframeImageGenerateOperator(
        task_id="grid", model="midjourney", prompt="a lighthouse", poll_interval=0.2
    )
    ti = TaskInstance(task_id="grid")
    urls = run(op, ti)
    return ti.xcom["job_id"], urls


def test_midjourney_grid_then_u2(apiframe_conn):
    grid_id, grid = midjourney_grid()
    assert len(grid) == 4
    op = ApiframeMidjourneyActionOperator(
        task_id="u2", action="upsample", parent_job_id=grid_id, index=2, poll_interval=0.2
    )
    [upsampled] = run(op)
    assert opened(upsampled).size[0] > 0


def test_an_action_the_parent_does_not_offer_is_a_permanent_error(apiframe_conn):
    grid_id, _ = midjourney_grid()
    op = ApiframeMidjourneyActionOperator(
        task_id="pan", action="pan", parent_job_id=grid_id, options={"direction": "left"}, poll_interval=0.2
    )
    with pytest.raises(ApiframeConflictError) as info:
        op.execute({"ti": TaskInstance(task_id="pan")})
    assert info.value.http_status == 409
