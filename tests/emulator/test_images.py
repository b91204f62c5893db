"""The CDN serves real JPEG/PNG/WEBP files, as many and as large as each model's options ask."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image, features

from tests.emulator.conftest import COUNT_PARAMS, MODEL_IDS, VALID_UUID, block_of, full_body, with_ready_lora

WEBP = features.check("webp")


def finished_image_url(api, clock, params: dict[str, str]) -> str:
    job_id = api.new_job(imagenParams=params)
    clock.now += 10
    [url] = api.job(job_id)["result"]["images"]
    return url


@pytest.mark.parametrize(
    ("params", "pil_format", "content_type", "size"),
    [
        ({}, "JPEG", "image/jpeg", (1024, 1024)),
        (
            {"aspect_ratio": "16:9", "image_size": "2K", "output_format": "png"},
            "PNG",
            "image/png",
            (2816, 1536),
        ),
        ({"aspect_ratio": "9:16", "output_format": "png"}, "PNG", "image/png", (768, 1408)),
        ({"aspect_ratio": "3:4", "image_size": "2K"}, "JPEG", "image/jpeg", (1792, 2560)),
        ({"aspect_ratio": "4:3"}, "JPEG", "image/jpeg", (1280, 896)),
    ],
)
def test_image_has_the_requested_size_and_format(api, clock, params, pil_format, content_type, size):
    url = finished_image_url(api, clock, params)
    response = requests.get(url, timeout=10)  # like a CDN: no key
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    with Image.open(io.BytesIO(response.content)) as image:
        assert (image.format, image.size) == (pil_format, size)


def test_images_differ_between_jobs(api, clock):
    first = requests.get(finished_image_url(api, clock, {}), timeout=10).content
    second = requests.get(finished_image_url(api, clock, {}), timeout=10).content
    assert first != second


def test_image_is_404_before_completion_and_for_unknown_or_mistyped_names(api, clock):
    job_id = api.new_job()
    assert requests.get(f"{api.url}/cdn/images/{job_id}-1.jpg", timeout=10).status_code == 404
    clock.now += 10
    assert requests.get(f"{api.url}/cdn/images/{job_id}-1.jpg", timeout=10).status_code == 200
    for name in (f"{job_id}-1.png", f"{job_id}-2.jpg", "00000000-0000-4000-8000-000000000000-1.jpg", "x"):
        response = requests.get(f"{api.url}/cdn/images/{name}", timeout=10)
        assert response.status_code == 404, name


def test_image_urls_follow_the_host_the_client_used(api, clock):
    job_id = api.new_job()
    clock.now += 10
    headers = {**api.headers(), "Host": "emulator.example:8443"}
    response = requests.get(f"{api.url}/v2/jobs/{job_id}", headers=headers, timeout=10)
    assert response.json()["result"]["images"] == [f"http://emulator.example:8443/cdn/images/{job_id}-1.jpg"]


def finished_job(api, clock, model: str, params: dict | None = None) -> dict:
    body = {"prompt": "koi in a pond", "model": model}
    if params is not None:
        body[block_of(model)["key"]] = dict(params)
    job_id = api.new_job(body=with_ready_lora(api, body))
    clock.now += 10
    job = api.job(job_id)
    assert job["status"] == "COMPLETED"
    return job


def fetch(url: str) -> tuple[str, str, tuple[int, int], bytes]:
    """An image from the CDN: its content type, the format Pillow reads, its size and its bytes."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, url
    with Image.open(io.BytesIO(response.content)) as image:
        image.load()
        return response.headers["Content-Type"], image.format, image.size, response.content


def test_flux_at_512_square_in_jpg_is_a_real_512_square_jpeg(api, clock):
    job = finished_job(api, clock, "flux-1.1-pro", {"width": 512, "height": 512, "output_format": "jpg"})
    [url] = job["result"]["images"]
    assert url.endswith("-1.jpg")
    assert fetch(url)[:3] == ("image/jpeg", "JPEG", (512, 512))


@pytest.mark.parametrize(
    ("model", "params", "pil_format", "size"),
    [
        # OpenAI's documented sizes; "jpeg" is served as .jpg.
        ("gpt-image-1.5", {"aspect_ratio": "3:2", "output_format": "jpeg"}, "JPEG", (1536, 1024)),
        ("gpt-image-2", {"aspect_ratio": "2:3"}, "PNG", (1024, 1536)),
        ("dall-e-3", {"aspect_ratio": "3:2"}, "PNG", (1792, 1024)),
        # One side given: the other from the aspect ratio.
        ("flux-2-pro", {"width": 1024, "aspect_ratio": "16:9", "output_format": "png"}, "PNG", (1024, 576)),
        ("seedream-4", {"width": 2048, "height": 1024, "output_format": "png"}, "PNG", (2048, 1024)),
        # Resolutions: an area (K, MP, px) at the aspect ratio, sides multiples of 16.
        ("nano-banana-pro", {"aspect_ratio": "16:9", "resolution": "2K"}, "JPEG", (2736, 1536)),
        ("nano-banana-2", {"resolution": "512px"}, "JPEG", (512, 512)),
        ("flux-2-pro", {"resolution": "0.5MP"}, "JPEG", (720, 720)),
        ("seedream-4", {"size": "2K", "aspect_ratio": "4:3"}, "JPEG", (2368, 1776)),
        # Exact sizes: Qwen's named ones, and "WxH".
        ("qwen-image", {"image_size": "landscape_16_9", "output_format": "jpeg"}, "JPEG", (1024, 576)),
        ("ideogram-v3-turbo", {"resolution": "1280x800"}, "PNG", (1280, 800)),
        # Nothing said: about a megapixel at the aspect ratio, if any.
        ("midjourney", {"aspect_ratio": "16:9"}, "PNG", (1360, 768)),
        ("wan-image-2.6", {"aspect_ratio": "21:9"}, "PNG", (1568, 672)),
        ("reve-create", None, "PNG", (1024, 1024)),
    ],
)
def test_each_model_serves_the_size_and_format_its_options_ask_for(
    api, clock, model, params, pil_format, size
):
    job = finished_job(api, clock, model, params)
    extension = {"JPEG": "jpg", "PNG": "png"}[pil_format]
    for url in job["result"]["images"]:
        assert url.endswith(f".{extension}")
        assert fetch(url)[:3] == (f"image/{pil_format.lower()}", pil_format, size)


def test_webp_is_served_as_webp_when_pillow_can_write_it_else_as_an_honest_png(api, clock):
    [url] = finished_job(api, clock, "stable-diffusion-3", {"aspect_ratio": "16:9"})["result"]["images"]
    content_type, pil_format, size, _ = fetch(url)
    expected = ("webp", "image/webp", "WEBP") if WEBP else ("png", "image/png", "PNG")
    assert (url.rsplit(".", 1)[1], content_type, pil_format) == expected
    assert size == (1360, 768)


def test_a_free_form_size_beyond_any_vendors_is_brought_down_keeping_its_shape(api, clock):
    [url] = finished_job(api, clock, "ideogram-v2", {"resolution": "90000x45000"})["result"]["images"]
    width, height = fetch(url)[2]
    assert width * height <= 17_000_000 and max(width, height) <= 8192
    assert width == 2 * height and width % 16 == 0


def test_midjourney_returns_its_grids_four_different_images(api, clock):
    job = finished_job(api, clock, "midjourney")
    urls = job["result"]["images"]
    assert [url.rsplit("/", 1)[1] for url in urls] == [f"{job['id']}-{n}.png" for n in (1, 2, 3, 4)]
    images = [fetch(url) for url in urls]
    assert {image[:3] for image in images} == {("image/png", "PNG", (1024, 1024))}
    assert len({image[3] for image in images}) == 4
    assert requests.get(f"{api.url}/cdn/images/{job['id']}-5.png", timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("model", "params", "count"),
    [
        ("gpt-image-1.5", {"number_of_images": 3}, 3),
        ("kling-image", {"n": 2}, 2),
        ("qwen-image", {"num_images": 4}, 4),
        ("flux-lora", {"loraId": VALID_UUID, "num_outputs": 2}, 2),
        ("gpt-image-2", {}, 1),
    ],
)
def test_a_count_parameter_sets_how_many_images_a_job_returns(api, clock, model, params, count):
    urls = finished_job(api, clock, model, params)["result"]["images"]
    assert len(urls) == len(set(urls)) == count
    assert all(fetch(url)[1] == "PNG" for url in urls)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_model_delivers_real_images_for_a_body_using_every_key(api, clock, model_id):
    body = with_ready_lora(api, full_body(model_id))
    job_id = api.new_job(body=body)
    clock.now += 10
    job = api.job(job_id)
    params = body[block_of(model_id)["key"]]
    count = next(
        (params[name] for name in COUNT_PARAMS if name in params), 4 if model_id == "midjourney" else 1
    )
    assert job["status"] == "COMPLETED" and len(job["result"]["images"]) == count
    served = set()
    for url in job["result"]["images"]:
        content_type, pil_format, size, _ = fetch(url)
        extension = url.rsplit(".", 1)[1]
        assert (content_type, pil_format) == {
            "jpg": ("image/jpeg", "JPEG"),
            "png": ("image/png", "PNG"),
            "webp": ("image/webp", "WEBP"),
        }[extension]
        served.add((extension, size))
    assert len(served) == 1  # one format and size for all of a job's images
    [(_, (width, height))] = served
    if "width" in params:
        assert (width, height) == (params["width"], params["height"])
    assert min(width, height) >= 256 and max(width, height) <= 4096
