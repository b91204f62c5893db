"""ApiframeImageGenerateOperator: any catalogue model, its options checked before anything is spent."""

from __future__ import annotations

import asyncio

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from PIL import Image

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.links import IMAGE_URL_XCOM
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator
from tests.operators.test_imagen import TaskInstance, first_event


def generate(**kwargs):
    kwargs.setdefault("task_id", "generate")
    kwargs.setdefault("model", "flux-1.1-pro")
    kwargs.setdefault("prompt", "a single small green circle on a white background, vector")
    kwargs.setdefault("poll_interval", 0.2)
    return ApiframeImageGenerateOperator(**kwargs)


@pytest.mark.parametrize(
    ("options", "path", "needle"),
    [
        ({"width": 100}, "fluxParams.width", "an integer from 256 to 2048"),
        ({"output_format": "gif"}, "fluxParams.output_format", "one of jpg, png, webp"),
        ({"colour": "red"}, "fluxParams.colour", "not accepted by flux-1.1-pro"),
        ({"input_images": "https://x.test/a.png"}, "fluxParams.input_images", "a list"),
    ],
)
def test_a_literal_mistake_fails_the_dag_import(options, path, needle):
    with pytest.raises(ApiframeValidationError) as info:
        generate(image_options=options)
    assert path in info.value.details and needle in str(info.value)
    [key] = options
    assert f"image_options[{key!r}] [{path}]: " in str(info.value)


def test_a_missing_required_input_is_named_when_the_task_runs(apiframe_conn):
    # A required key may still come from a template, so the DAG imports; the task refuses before a submit.
    op = generate(model="ideogram-character", image_options={"rendering_speed": "turbo"})
    with pytest.raises(ApiframeValidationError) as info:
        op.execute({"ti": TaskInstance()})
    assert "ideogramParams.character_reference_image" in info.value.details
    assert apiframe_conn.stats()["submits"] == 0


def test_a_templated_option_is_checked_once_rendered(apiframe_conn):
    op = generate(image_options={"width": "{{ params.width }}"})
    op.image_options = {"width": "512"}  # what rendering produced: a string, not an integer
    with pytest.raises(ApiframeValidationError, match=r"fluxParams.width"):
        op.execute({"ti": TaskInstance()})
    assert apiframe_conn.stats()["submits"] == 0


def test_flux_job_defers_and_returns_an_image_of_the_asked_size(apiframe_conn):
    import urllib.request

    op = generate(image_options={"width": 512, "height": 512, "output_format": "jpg"})
    ti = TaskInstance()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    assert deferred.value.trigger.model == "flux-1.1-pro"
    urls = op.execute_complete({"ti": ti}, asyncio.run(first_event(deferred.value.trigger)))
    assert ti.xcom[IMAGE_URL_XCOM] == urls[0]
    with urllib.request.urlopen(urls[0]) as answer, Image.open(answer) as image:
        assert (image.format, image.size) == ("JPEG", (512, 512))


def test_imagen_operator_is_the_generic_one_with_typed_options(apiframe_conn):
    imagen = ImagenGenerateOperator(task_id="generate", prompt="koi", aspect_ratio="16:9", deferrable=False)
    generic = ApiframeImageGenerateOperator(
        task_id="generate",
        model="imagen-4",
        prompt="koi",
        image_options={"aspect_ratio": "16:9", "output_format": "jpg", "image_size": "1K"},
        deferrable=False,
    )
    first, second = TaskInstance(), TaskInstance()
    assert imagen.execute({"ti": first}) == generic.execute({"ti": second})
    # Same request, same task instance: one idempotency key, one job, paid once.
    assert first.xcom["job_id"] == second.xcom["job_id"]
    assert apiframe_conn.stats()["jobs_created"] == 1


def test_imagen_typed_options_render_into_the_block():
    op = ImagenGenerateOperator(task_id="generate", prompt="koi", aspect_ratio="{{ params.ratio }}")
    op.aspect_ratio = "9:16"
    assert op.image_options == {"aspect_ratio": "9:16", "output_format": "jpg", "image_size": "1K"}
