"""LoRA training: checked before anything is sent, trained once per task instance, used and archived."""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from PIL import Image

from airflow_provider_apiframe.exceptions import ApiframeJobFailedError, ApiframeValidationError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.lora import ApiframeLoraArchiveOperator, ApiframeLoraTrainOperator
from tests.batch.test_batch_operator import run_to_end
from tests.operators.test_image_edits import run
from tests.operators.test_imagen import TaskInstance, first_event

PERSON = {"gender": "female", "ethnicity": "Portuguese"}


def faces(folder, count=15, size=(96, 96)):
    """``count`` small photos of one subject, as files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"face-{index:02d}.{'jpg' if index % 2 else 'png'}"
        Image.new("RGB", size, (40 + index * 10, 90, 120)).save(path)
        paths.append(str(path))
    return paths


def train(images, **kwargs):
    kwargs.setdefault("task_id", "train")
    kwargs.setdefault("name", "Ana")
    kwargs.setdefault("poll_interval", 0.2)
    return ApiframeLoraTrainOperator(images=images, **{**PERSON, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "field", "needle"),
    [
        ({"name": "x" * 52}, "name", "1 to 51 characters"),
        ({"gender": None}, "gender", "required to train on a person"),
        ({"ethnicity": None}, "ethnicity", "required to train on a person"),
        ({"steps": 499}, "steps", "500 to 3000"),
        ({"lora_rank": 65}, "lora_rank", "8 to 64"),
        ({"subject_kind": "pet"}, "subject_kind", "person, style, object"),
        ({"gender": "robot"}, "gender", "female, male, non-binary"),
    ],
)
def test_a_literal_mistake_fails_the_dag_import(kwargs, field, needle):
    with pytest.raises(ApiframeValidationError) as info:
        train(["x.png"] * 15, **kwargs)
    assert field in info.value.details and needle in str(info.value)


def test_a_style_needs_no_gender():
    op = train(["x.png"] * 15, subject_kind="style", gender=None, ethnicity=None)
    assert op.subject_kind == "style"


@pytest.mark.parametrize(
    ("make", "field", "needle"),
    [
        (lambda tmp: faces(tmp, 14), "images", "15 to 30 images, got 14"),
        (lambda tmp: faces(tmp, 31), "images", "15 to 30 images, got 31"),
        (lambda tmp: [*faces(tmp, 14), str(text_file(tmp))], "images[14]", "not a file the API takes"),
        (lambda tmp: [*faces(tmp, 14), str(gif_file(tmp))], "images[14]", "JPEG, PNG or WebP"),
        (lambda tmp: [*faces(tmp, 14), str(big_png(tmp, 11_000_000))], "images[14]", "at most 10 MB each"),
        (lambda tmp: [str(big_png(tmp, 7_000_000, n)) for n in range(15)], "images", "at most 100 MB"),
    ],
)
def test_bad_images_are_named_before_anything_is_sent(apiframe_conn, tmp_path, make, field, needle):
    op = train(make(tmp_path))
    with pytest.raises(ApiframeValidationError) as info:
        op.execute({"ti": TaskInstance(task_id="train")})
    assert field in info.value.details and needle in " ".join(info.value.details[field])
    assert apiframe_conn.stats()["loras_created"] == 0


def text_file(folder):
    path = folder / "notes.png"
    path.write_text("not a picture")
    return path


def gif_file(folder):
    path = folder / "anim.gif"
    Image.new("RGB", (8, 8), "red").save(path, "GIF")
    return path


def big_png(folder, size, number=0):
    """A file that starts as a PNG and is ``size`` bytes long: sparse, so nothing is written."""
    path = folder / f"big-{number}.png"
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00")
        out.truncate(size)
    return path


def run_training(op, ti):
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    # Rebuilt from its serialized kwargs, as a triggerer does: they are plain JSON.
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "airflow_provider_apiframe.triggers.lora.ApiframeLoraTrigger"
    event = asyncio.run(first_event(type(deferred.value.trigger)(**json.loads(json.dumps(kwargs)))))
    return op.execute_complete({"ti": ti}, event)


def test_a_lora_trains_once_per_task_instance_and_generates_with_its_id(apiframe_conn, tmp_path):
    ti = TaskInstance(task_id="train")
    lora = run_training(train(faces(tmp_path)), ti)
    assert lora["status"] == "READY" and lora["triggerWord"] and lora["name"].startswith("Ana ")
    # Each field is an XCom of its own: train.output["id"] is the loraId.
    assert ti.xcom["id"] == lora["id"] and ti.xcom["triggerWord"] == lora["triggerWord"]
    # A retried try finds the LoRA by its name and trains nothing; ready already, it waits for nothing.
    again = train(faces(tmp_path)).execute({"ti": TaskInstance(task_id="train")})
    assert again == lora
    assert apiframe_conn.stats()["loras_created"] == 1
    [image] = run(
        ApiframeImageGenerateOperator(
            task_id="portrait",
            model="flux-lora",
            prompt=f"a photo of {lora['triggerWord']} in Lisbon",
            image_options={"loraId": lora["id"]},
            poll_interval=0.2,
        )
    )
    assert image.startswith("http")
    ApiframeLoraArchiveOperator(task_id="archive", lora_id=lora["id"]).execute({})
    ApiframeLoraArchiveOperator(task_id="archive", lora_id=lora["id"]).execute({})
    assert ApiframeHook().get_lora(lora["id"]).status.value == "ARCHIVED"


def test_a_failed_training_fails_with_the_api_reason_and_a_retry_trains_again(apiframe_conn, tmp_path):
    with pytest.raises(ApiframeJobFailedError) as info:
        run_training(train(faces(tmp_path), name="Ana [fail]"), TaskInstance(task_id="train"))
    assert info.value.status == "FAILED" and "FAILED" in str(info.value)
    with pytest.raises(ApiframeJobFailedError):
        run_training(train(faces(tmp_path), name="Ana [fail]"), TaskInstance(task_id="train"))
    assert apiframe_conn.stats()["loras_created"] == 2


def test_images_from_urls_and_from_a_stored_data_set(apiframe_conn, tmp_path):
    from airflow_provider_apiframe.operators.batch import ApiframeBatchOperator

    results = run_to_end(
        ApiframeBatchOperator(
            task_id="shots",
            operation="image generation",
            model="flux-1.1-pro",
            rows=[{"prompt": f"a portrait, angle {i}", "id": f"angle-{i}"} for i in range(16)],
            options={"width": 256, "height": 256, "output_format": "jpg"},
            store_to=str(tmp_path / "shots"),
            poll_interval=0.2,
        ),
        {"ti": TaskInstance(task_id="shots")},
    )
    urls = [r["images"][0] for r in results[:15]]
    by_url = run_training(train(urls, task_id="from_urls"), TaskInstance(task_id="from_urls"))
    # The data set's rows, one left out by its id.
    where = {"id": [f"angle-{i}" for i in range(1, 16)]}
    from_set = run_training(
        train(str(tmp_path / "shots"), images_where=where, task_id="from_set"),
        TaskInstance(task_id="from_set"),
    )
    assert by_url["status"] == from_set["status"] == "READY"
    assert apiframe_conn.stats()["loras_created"] == 2
