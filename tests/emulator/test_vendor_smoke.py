"""The vendor's own Node SDK smoke test, replayed against the emulator in real time."""

from __future__ import annotations

import io
import time

import requests
from PIL import Image

SMOKE_BODY = {
    "model": "flux-1.1-pro",
    "prompt": "a single small green circle on a white background, vector",
    "fluxParams": {"width": 512, "height": 512, "output_format": "jpg"},
}


def test_the_sdk_smoke_sequence_passes(apiframe_emulator):
    url, headers = apiframe_emulator.url, {"X-API-Key": apiframe_emulator.api_key}
    me = requests.get(f"{url}/v2/me", headers=headers, timeout=10)
    assert me.status_code == 200 and me.json()["user"]["email"]

    submitted = requests.post(f"{url}/v2/images/generate", json=SMOKE_BODY, headers=headers, timeout=10)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["jobId"]

    deadline = time.monotonic() + 10
    while True:
        job = requests.get(f"{url}/v2/jobs/{job_id}", headers=headers, timeout=10).json()
        if job["status"] == "COMPLETED" or time.monotonic() > deadline:
            break
        assert job["status"] in ("QUEUED", "PROCESSING")
        time.sleep(0.05)
    assert job["status"] == "COMPLETED" and job["result"] is not None
    assert (job["model"], job["input"]) == ("flux-1.1-pro", SMOKE_BODY)

    [image_url] = job["result"]["images"]
    image = requests.get(image_url, timeout=10)
    assert image.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(image.content)) as picture:
        assert (picture.format, picture.size) == ("JPEG", (512, 512))
