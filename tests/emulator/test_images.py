"""The CDN serves real JPEG/PNG files at Imagen's sizes."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image


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
