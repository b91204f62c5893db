"""The vendor's Node SDK running uploads and every edit, upscale, video and music call, replayed in real time.

What ran, on 2026-11-30 with Node 20: the official Node SDK, https://github.com/apiframe-ai/apiframe-nodejs-sdk
at commit 9f9b4641352e7f263b1d190440d8ee9349bb667d (2026-07-16, "chore: sync openapi spec with unreleased
Hailuo 03 model", package 2.0.0-beta.1), its files unchanged, against the emulator of this package. To run
it again by hand:

1. ``git clone https://github.com/apiframe-ai/apiframe-nodejs-sdk sdk`` then
   ``git -C sdk checkout 9f9b4641352e7f263b1d190440d8ee9349bb667d``; install its dependencies and build it
   with npm as its own package.json says, changing none of its files.
2. ``apiframe-emulator --port 0 --api-key afk_sdk_run_key --job-duration 1`` (this package's command; it
   prints the URL it listens on).
3. ``node drive.mjs``, an ES module that imports ``Apiframe`` and ``ValidationError`` from
   ``sdk/dist/index.js`` and builds the client with the SDK's own ``fetch`` option:
   ``new Apiframe({ apiKey: 'afk_sdk_run_key', baseUrl: <the URL>, fetch: recordingFetch })``, where
   ``recordingFetch(url, init)`` notes the method, path, headers (those of ``new Request(url, init)``, so
   the multipart part's type shows) and body, calls the global ``fetch`` and notes the status. It then
   makes these calls in this order, each job followed by ``await client.jobs.waitFor(jobId)`` (its
   defaults) and a plain ``fetch`` of every http(s) URL under the finished job's ``result``::

       const image = (await client.uploads.create({ file: 'input.png' })).url;  // a 320x240 RGB PNG
       const mask = (await client.uploads.create(
         { file: maskPngBytes, filename: 'mask.png', contentType: 'image/png' })).url;
       const upscale = [{ model: 'topaz-image-upscale', topazUpscaleParams: { image, upscale_factor: 2 } },
                        { idempotencyKey: 'sdk-run-images-upscale' }];
       client.images.upscale(...upscale);  // waitFor, download; then the very same call once more
       client.images.removeBackground({ model: 'bria-bg-remove', briaBgRemoveParams: { image } });
       client.images.edit({ model: 'flux-fill-pro', fluxFillParams:
         { image, mask, prompt: 'replace the sky with northern lights', mode: 'inpaint' } });
       client.videos.generate({ model: 'kling-2.5-turbo-pro', prompt: 'cinematic drone shot over snowy
         mountains', klingParams: { duration: 5, aspect_ratio: '169' } });  // the README's, verbatim
       client.videos.generate({ model: 'kling-2.5-turbo-pro', prompt: <the same>, klingParams:
         { duration: 5, aspect_ratio: '16:9', start_image: image } },
         { idempotencyKey: 'sdk-run-videos-generate' });
       const video = (await client.uploads.create(
         { file: <the clip's bytes>, filename: 'clip.mp4', contentType: 'video/mp4' })).url;
       client.videos.upscale({ model: 'topaz-video-upscale', topazVideoParams:
         { video, target_resolution: '1080p', target_fps: 30 } });
       client.videos.edit({ model: 'wan-2.7-videoedit', prompt: 'change the colour grading to warm sunset',
         wan27VideoeditParams: { video } });
       client.music.generate({ model: 'suno', prompt: 'lo-fi hip-hop, mellow, rainy afternoon',
         sunoParams: { custom_mode: false, instrumental: true, model_version: 'V5' } });

Every call did what the SDK expects: 201 uploads, 202 ``{jobId, status: "QUEUED"}`` submits (the replayed
key: the same ``jobId``, ``COMPLETED``), ``waitFor`` resolved on ``COMPLETED`` and every output downloaded and
opened. The README's Kling example was refused with 400 and ``details["klingParams.aspect_ratio"]`` (read by
the SDK into ``ValidationError.details``): the spec's enum is ``16:9``, ``9:16``, ``1:1``, so the README is
wrong there, not the emulator. The SDK sends ``Idempotency-Key`` only when told to, as here for two calls.

The tests below send those requests as the SDK sent them (its headers, its compact JSON, its multipart part
types) and check what the SDK, and a caller of it, relied on. The emulator here runs the fixture's fast jobs,
so polls come faster than ``waitFor``'s 2 s first interval.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw

from tests.emulator.media_checks import fetch, open_image, read_mp4, wav_seconds

# What the SDK adds to every request (its User-Agent names 2.0.0-beta.0, a constant its release left behind).
SDK_HEADERS = {"Accept": "application/json", "User-Agent": "apiframe-sdk-node/2.0.0-beta.0"}
# The Job fields the spec makes required, the ones the SDK's Job type declares as always there.
JOB_FIELDS = {
    "id",
    "status",
    "model",
    "progress",
    "error",
    "creditCost",
    "webhookStatus",
    "createdAt",
    "completedAt",
}
UPLOAD_FIELDS = {"id", "url", "kind", "contentType", "byteSize", "expiresAt"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INPUT_SIZE = (320, 240)
KLING_PROMPT = "cinematic drone shot over snowy mountains"


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def input_png() -> bytes:
    """The driver's input.png: 320x240 RGB, red across, green down, blue at 128."""
    width, height = INPUT_SIZE
    image = Image.new("RGB", INPUT_SIZE)
    image.putdata([(x % 256, y % 256, 128) for y in range(height) for x in range(width)])
    return png(image)


def mask_png() -> bytes:
    """The driver's mask: a white rectangle in the middle of a black 320x240 picture."""
    image = Image.new("RGB", INPUT_SIZE)
    ImageDraw.Draw(image).rectangle((101, 61, 219, 179), fill=(255, 255, 255))
    return png(image)


class Sdk:
    """The requests the SDK sends, as it sends them, and the checks of its ``waitFor``."""

    def __init__(self, server: Any) -> None:
        self.url = server.url
        self.headers = {"X-API-Key": server.api_key, **SDK_HEADERS}

    def upload(self, filename: str, data: bytes, part_type: str) -> dict:
        """``uploads.create``: one multipart part ``file`` (a Blob without a type goes as octet-stream)."""
        response = requests.post(
            f"{self.url}/v2/uploads",
            files={"file": (filename, data, part_type)},
            headers=self.headers,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        upload = response.json()
        assert set(upload) >= UPLOAD_FIELDS, upload
        assert UUID.fullmatch(upload["id"]) and upload["byteSize"] == len(data)
        assert datetime.fromisoformat(upload["expiresAt"]) > datetime.now(UTC)
        return upload

    def submit(self, path: str, body: dict, idempotency_key: str | None = None) -> requests.Response:
        """Any job method: its body as ``JSON.stringify`` writes it, the key only when one is given."""
        headers = {**self.headers, "Content-Type": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return requests.post(
            f"{self.url}{path}", data=json.dumps(body, separators=(",", ":")), headers=headers, timeout=10
        )

    def wait_for(self, job_id: str) -> dict:
        """``jobs.waitFor``: poll until COMPLETED; FAILED or CANCELLED would reject (with ``error``)."""
        for _ in range(400):
            response = requests.get(f"{self.url}/v2/jobs/{job_id}", headers=self.headers, timeout=10)
            assert response.status_code == 200, response.text
            job = response.json()
            assert set(job) >= JOB_FIELDS and job["id"] == job_id, job
            assert job["status"] not in ("FAILED", "CANCELLED"), job["error"]
            if job["status"] == "COMPLETED":
                return job
            assert job["status"] in ("QUEUED", "PROCESSING") and job["completedAt"] is None
            assert job["progress"] is None or 0 <= job["progress"] <= 100
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} never completed")

    def run(self, path: str, body: dict, idempotency_key: str | None = None) -> dict:
        """Submit (202, QUEUED), wait for the job, and return it finished."""
        accepted = self.submit(path, body, idempotency_key)
        assert accepted.status_code == 202, accepted.text
        answer = accepted.json()
        assert answer["status"] == "QUEUED" and UUID.fullmatch(answer["jobId"]), answer
        job = self.wait_for(answer["jobId"])
        assert job["model"] == body["model"] and isinstance(job["creditCost"], int)
        return job


def only_url(job: dict, kind: str) -> str:
    [url] = job["result"][kind]
    return url


@pytest.fixture
def sdk(apiframe_emulator) -> Sdk:
    return Sdk(apiframe_emulator)


@pytest.fixture
def image_url(sdk) -> str:
    return sdk.upload("input.png", input_png(), "application/octet-stream")["url"]


def test_uploads_create_from_a_path_and_from_bytes(sdk):
    data, mask = input_png(), mask_png()
    from_path = sdk.upload("input.png", data, "application/octet-stream")
    from_bytes = sdk.upload("mask.png", mask, "image/png")
    for upload, sent in ((from_path, data), (from_bytes, mask)):
        assert (upload["kind"], upload["contentType"]) == ("image", "image/png")
        assert upload["url"].endswith(f"/uploads/{upload['id']}.png")
        served = fetch(upload["url"])
        assert (served.headers["Content-Type"], served.content) == ("image/png", sent)
    assert from_path["id"] != from_bytes["id"]


def test_images_upscale_then_the_same_call_under_the_same_key(sdk, image_url):
    body = {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": image_url, "upscale_factor": 2}}
    job = sdk.run("/v2/images/upscale", body, idempotency_key="sdk-run-images-upscale")
    response = fetch(only_url(job, "images"))
    assert response.headers["Content-Type"] == "image/jpeg"
    upscaled = open_image(response.content)
    assert (upscaled.format, upscaled.size) == ("JPEG", (640, 480))

    replay = sdk.submit("/v2/images/upscale", body, idempotency_key="sdk-run-images-upscale")
    assert replay.status_code == 202
    assert replay.json() == {"jobId": job["id"], "status": "COMPLETED"}


def test_images_remove_background(sdk, image_url):
    body = {"model": "bria-bg-remove", "briaBgRemoveParams": {"image": image_url}}
    response = fetch(only_url(sdk.run("/v2/images/background-remove", body), "images"))
    assert response.headers["Content-Type"] == "image/png"
    cut_out = open_image(response.content)
    assert (cut_out.format, cut_out.mode, cut_out.size) == ("PNG", "RGBA", INPUT_SIZE)
    assert cut_out.getextrema()[3][0] == 0  # somewhere the background is gone


def test_images_edit_inpaints_with_an_uploaded_mask(sdk, image_url):
    mask_url = sdk.upload("mask.png", mask_png(), "image/png")["url"]
    body = {
        "model": "flux-fill-pro",
        "fluxFillParams": {
            "image": image_url,
            "mask": mask_url,
            "prompt": "replace the sky with northern lights",
            "mode": "inpaint",
        },
    }
    response = fetch(only_url(sdk.run("/v2/images/edit", body), "images"))
    assert response.headers["Content-Type"] == "image/jpeg"
    edited = open_image(response.content)
    assert (edited.format, edited.size) == ("JPEG", INPUT_SIZE)


def test_the_readme_video_example_is_refused_as_the_spec_says(sdk):
    body = {
        "model": "kling-2.5-turbo-pro",
        "prompt": KLING_PROMPT,
        "klingParams": {"duration": 5, "aspect_ratio": "169"},
    }
    response = sdk.submit("/v2/videos/generate", body)
    assert response.status_code == 400
    answer = response.json()
    # The SDK's ValidationError takes its message from `error` and its `details` as they come.
    assert isinstance(answer["error"], str) and answer["error"]
    [message] = answer["details"]["klingParams.aspect_ratio"]
    assert "'169'" in message and "'16:9'" in message


def generated_clip(sdk: Sdk, image_url: str) -> bytes:
    """``videos.generate`` from an uploaded start image: a 5 s 16:9 720p MP4."""
    body = {
        "model": "kling-2.5-turbo-pro",
        "prompt": KLING_PROMPT,
        "klingParams": {"duration": 5, "aspect_ratio": "16:9", "start_image": image_url},
    }
    job = sdk.run("/v2/videos/generate", body, idempotency_key="sdk-run-videos-generate")
    response = fetch(only_url(job, "videos"))
    assert response.headers["Content-Type"] == "video/mp4"
    track = read_mp4(response.content)
    assert track.top_level == [b"ftyp", b"moov", b"mdat"]
    assert (track.codec, (track.width, track.height), track.seconds) == (b"mp4v", (1280, 720), 5)
    return response.content


def test_videos_generate_from_an_uploaded_start_image(sdk, image_url):
    generated_clip(sdk, image_url)


def test_videos_upscale_and_edit_an_uploaded_clip(sdk, image_url):
    clip = generated_clip(sdk, image_url)
    upload = sdk.upload("clip.mp4", clip, "video/mp4")
    assert (upload["kind"], upload["contentType"]) == ("video", "video/mp4")
    assert fetch(upload["url"]).content == clip

    upscale = {
        "model": "topaz-video-upscale",
        "topazVideoParams": {"video": upload["url"], "target_resolution": "1080p", "target_fps": 30},
    }
    edit = {
        "model": "wan-2.7-videoedit",
        "prompt": "change the colour grading to warm sunset",
        "wan27VideoeditParams": {"video": upload["url"]},
    }
    for path, body, size in (("/v2/videos/upscale", upscale, (1920, 1080)), ("/v2/videos/edit", edit, None)):
        response = fetch(only_url(sdk.run(path, body), "videos"))
        assert response.headers["Content-Type"] == "video/mp4"
        track = read_mp4(response.content)
        assert track.top_level == [b"ftyp", b"moov", b"mdat"] and track.codec == b"mp4v"
        assert track.seconds > 0 and track.frames
        assert all(frame.startswith(b"\xff\xd8") for frame in track.frames)  # JPEG frames
        if size is not None:
            assert (track.width, track.height) == size


def test_music_generate_gives_two_songs(sdk):
    body = {
        "model": "suno",
        "prompt": "lo-fi hip-hop, mellow, rainy afternoon",
        "sunoParams": {"custom_mode": False, "instrumental": True, "model_version": "V5"},
    }
    songs = sdk.run("/v2/music/generate", body)["result"]["audio"]
    assert len(songs) == len(set(songs)) == 2
    for url in songs:
        response = fetch(url)
        assert response.headers["Content-Type"] == "audio/wav"
        seconds, channels, rate = wav_seconds(response.content)
        assert seconds > 0 and channels >= 1 and rate > 0
