"""The files every kind of job returns: images, MP4 videos and WAV songs that standard tools open."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_apiframe.emulator import audio, video
from tests.emulator.conftest import VALID_URL, Api
from tests.emulator.media_checks import external_video_size, fetch, open_image, read_mp4, wav_seconds


@pytest.fixture
def rich(apiframe_emulator_factory, clock) -> Api:
    return Api(apiframe_emulator_factory(clock=clock, job_duration=10.0, credits=1_000_000))


def finished(api: Api, clock, path: str, body: dict) -> dict:
    job_id = api.new_job(body=body, path=path)
    clock.now += 1000
    job = api.job(job_id)
    assert job["status"] == "COMPLETED", job
    return job


# --- images -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "block", "params", "pil_format", "size"),
    [
        # An input the emulator does not know is taken to be 1024 square.
        ("topaz-image-upscale", "topazUpscaleParams", {}, "JPEG", (2048, 2048)),
        (
            "topaz-image-upscale",
            "topazUpscaleParams",
            {"upscale_factor": 4, "output_format": "png"},
            "PNG",
            (4096, 4096),
        ),
        (
            "clarity-upscale",
            "clarityUpscaleParams",
            {"scale_factor": 1, "output_format": "jpg"},
            "JPEG",
            (1024, 1024),
        ),
        ("clarity-upscale", "clarityUpscaleParams", {}, "PNG", (2048, 2048)),
    ],
)
def test_an_upscale_is_the_input_size_times_the_factor_in_the_format_asked(
    rich, clock, model, block, params, pil_format, size
):
    job = finished(rich, clock, "/v2/images/upscale", {"model": model, block: {"image": VALID_URL, **params}})
    [url] = job["result"]["images"]
    response = fetch(url)
    image = open_image(response.content)
    assert (image.format, image.size) == (pil_format, size)
    assert response.headers["Content-Type"] == f"image/{pil_format.lower()}"


def test_upscaling_a_jobs_own_image_starts_from_its_real_size(rich, clock):
    source = finished(
        rich,
        clock,
        "/v2/images/generate",
        {"model": "imagen-4", "prompt": "koi", "imagenParams": {"aspect_ratio": "16:9"}},
    )
    [image_url] = source["result"]["images"]  # 1408x768
    body = {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": image_url, "upscale_factor": 2}}
    [url] = finished(rich, clock, "/v2/images/upscale", body)["result"]["images"]
    assert open_image(fetch(url).content).size == (2816, 1536)


def test_background_removal_gives_a_png_with_a_transparent_background(rich, clock):
    body = {"model": "bria-bg-remove", "briaBgRemoveParams": {"image": VALID_URL}}
    [url] = finished(rich, clock, "/v2/images/background-remove", body)["result"]["images"]
    response = fetch(url)
    image = open_image(response.content)
    assert (response.headers["Content-Type"], image.format, image.mode, image.size) == (
        "image/png",
        "PNG",
        "RGBA",
        (1024, 1024),
    )
    assert image.getpixel((2, 2))[3] == 0  # a corner: background, removed
    assert image.getpixel((512, 700))[3] == 255  # the middle: the subject


@pytest.mark.parametrize(
    ("params", "pil_format", "mode", "corner"),
    [
        ({}, "PNG", "RGBA", (0, 0, 0, 0)),
        ({"format": "jpg"}, "JPEG", "RGB", (255, 255, 255)),
        ({"background_type": "green"}, "PNG", "RGBA", (0, 177, 64, 255)),
    ],
)
def test_851_background_removal_follows_its_format_and_background(
    rich, clock, params, pil_format, mode, corner
):
    body = {"model": "851-bg-remove", "lab851BgRemoveParams": {"image": VALID_URL, **params}}
    [url] = finished(rich, clock, "/v2/images/background-remove", body)["result"]["images"]
    image = open_image(fetch(url).content)
    assert (image.format, image.mode) == (pil_format, mode)
    pixel = image.getpixel((2, 2))
    if pil_format == "JPEG":
        assert all(abs(a - b) <= 3 for a, b in zip(pixel, corner, strict=True))
    else:
        assert pixel == corner


@pytest.mark.parametrize(
    ("params", "pil_format", "size"),
    [
        ({"mode": "inpaint"}, "JPEG", (1024, 1024)),
        ({"mode": "inpaint", "output_format": "png"}, "PNG", (1024, 1024)),
        ({"mode": "outpaint", "outpaint": "Zoom out 2x"}, "JPEG", (2048, 2048)),
        ({"mode": "outpaint", "outpaint": "Left outpaint", "output_format": "png"}, "PNG", (1536, 1024)),
    ],
)
def test_an_edit_is_an_image_in_the_format_asked(rich, clock, params, pil_format, size):
    body = {"model": "flux-fill-pro", "fluxFillParams": {"image": VALID_URL, "prompt": "a koi", **params}}
    [url] = finished(rich, clock, "/v2/images/edit", body)["result"]["images"]
    image = open_image(fetch(url).content)
    assert (image.format, image.size) == (pil_format, size)


# --- videos -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "block", "params", "size", "seconds"),
    [
        ("veo-3", "veoParams", {"aspect_ratio": "9:16", "duration": 6}, (720, 1280), 6),
        ("veo-3.1-lite", "veoParams", {"resolution": "1080p"}, (1920, 1080), 4),
        ("kling-2.1", "klingParams", {}, (1280, 720), 5),
        (
            "seedance-1-lite",
            "seedanceParams",
            {"aspect_ratio": "1:1", "resolution": "480p", "duration": 10},
            (480, 480),
            10,
        ),
        ("sora-2", "soraParams", {"resolution": "high"}, (1920, 1080), 4),
        ("luma-ray-2", "lumaParams", {"aspect_ratio": "21:9"}, (1680, 720), 5),
    ],
)
def test_a_video_is_a_real_mp4_at_the_size_and_length_asked(rich, clock, model, block, params, size, seconds):
    job = finished(
        rich, clock, "/v2/videos/generate", {"model": model, "prompt": "koi leaping", block: params}
    )
    [url] = job["result"]["videos"]
    assert url.endswith(f"{job['id']}-1.mp4")
    response = fetch(url)
    assert response.headers["Content-Type"] == "video/mp4"
    track = read_mp4(response.content)
    assert track.top_level == [b"ftyp", b"moov", b"mdat"]
    assert (track.codec, (track.width, track.height), track.seconds) == (b"mp4v", size, seconds)
    assert len(track.frames) == seconds * video.FRAMES_PER_SECOND
    frames = [open_image(frame) for frame in track.frames]
    assert {(frame.format, frame.size) for frame in frames} == {("JPEG", size)}
    assert frames[0].tobytes() != frames[-1].tobytes()  # the bar at its foot moves
    external = external_video_size(response.content)
    if external is not None:  # ffprobe (or ffmpeg) on PATH reads and decodes it too
        assert external == size


def test_video_edit_and_upscale_give_mp4s(rich, clock):
    edit = {
        "model": "wan-2.7-videoedit",
        "prompt": "koi",
        "wan27VideoeditParams": {"video": VALID_URL, "aspect_ratio": "3:4", "duration": 3},
    }
    [url] = finished(rich, clock, "/v2/videos/edit", edit)["result"]["videos"]
    track = read_mp4(fetch(url).content)
    assert ((track.width, track.height), track.seconds) == ((720, 960), 3)
    upscale = {
        "model": "topaz-video-upscale",
        "topazVideoParams": {"video": VALID_URL, "target_resolution": "1080p", "target_fps": 30},
    }
    [url] = finished(rich, clock, "/v2/videos/upscale", upscale)["result"]["videos"]
    track = read_mp4(fetch(url).content)
    assert ((track.width, track.height), track.seconds) == ((1920, 1080), 5)


def test_a_video_is_rendered_once_and_served_from_the_cache_after(rich, clock):
    job = finished(rich, clock, "/v2/videos/generate", {"model": "wan-2.5", "prompt": "koi"})
    [url] = job["result"]["videos"]
    before = video.render_video.cache_info()
    first, second = fetch(url).content, fetch(url).content
    after = video.render_video.cache_info()
    assert first == second
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)


def test_video_files_are_404_before_completion_and_in_another_folder(rich, clock):
    job_id = rich.new_job(body={"model": "sora-2", "prompt": "koi"}, path="/v2/videos/generate")
    assert requests.get(f"{rich.url}/cdn/videos/{job_id}-1.mp4", timeout=10).status_code == 404
    clock.now += 1000
    assert requests.get(f"{rich.url}/cdn/videos/{job_id}-1.mp4", timeout=10).status_code == 200
    for path in (
        f"images/{job_id}-1.mp4",
        f"audio/{job_id}-1.mp4",
        f"videos/{job_id}-2.mp4",
        f"clips/{job_id}-1.mp4",
    ):
        assert requests.get(f"{rich.url}/cdn/{path}", timeout=10).status_code == 404, path


# --- music --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "params", "count", "seconds", "rate"),
    [
        ("suno", None, 2, 8.0, 8000),
        ("udio", None, 2, 8.0, 8000),
        ("lyria-3-clip", None, 1, 8.0, 8000),
        ("mureka", {"murekaParams": {"n": 3}}, 3, 8.0, 8000),
        ("elevenlabs-music", {"elevenlabsParams": {"music_length_ms": 12500}}, 1, 12.5, 8000),
        (
            "elevenlabs-music",
            {"elevenlabsParams": {"music_length_ms": 5000, "output_format": "wav_22khz"}},
            1,
            5.0,
            22050,
        ),
    ],
)
def test_songs_are_wavs_of_the_length_asked_two_for_suno_and_udio(
    rich, clock, model, params, count, seconds, rate
):
    job = finished(
        rich, clock, "/v2/music/generate", {"model": model, "prompt": "a koi song", **(params or {})}
    )
    urls = job["result"]["audio"]
    assert [url.rsplit("/", 1)[1] for url in urls] == [f"{job['id']}-{n}.wav" for n in range(1, count + 1)]
    songs = []
    for url in urls:
        response = fetch(url)
        assert response.headers["Content-Type"] == "audio/wav"
        assert wav_seconds(response.content) == (seconds, 1, rate)
        songs.append(response.content)
    assert len(set(songs)) == count  # each song its own tune


def test_a_song_is_rendered_once(rich, clock):
    [url, _] = finished(rich, clock, "/v2/music/generate", {"model": "suno", "prompt": "koi"})["result"][
        "audio"
    ]
    before = audio.render_sound.cache_info()
    assert fetch(url).content == fetch(url).content
    after = audio.render_sound.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
