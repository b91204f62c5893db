"""Video and music operators, and Suno actions: faces over the job core, outputs opened as files."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from PIL import Image

from airflow_provider_apiframe.exceptions import ApiframeConflictError, ApiframeValidationError
from airflow_provider_apiframe.operators.actions import ApiframeSunoActionOperator
from airflow_provider_apiframe.operators.media import (
    ApiframeMusicGenerateOperator,
    ApiframeVideoEditOperator,
    ApiframeVideoGenerateOperator,
    ApiframeVideoUpscaleOperator,
)
from tests.emulator.media_checks import fetch, read_mp4, wav_seconds
from tests.operators.test_image_edits import run
from tests.operators.test_imagen import TaskInstance


def probe(data, tmp_path):
    """What ffprobe (Debian's ffmpeg, installed by make test) reads of a file: its streams and length."""
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed")
    path = tmp_path / "media"
    path.write_bytes(data)
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_image_to_video_from_a_local_start_image(apiframe_conn, tmp_path):
    start = tmp_path / "start.png"
    Image.new("RGB", (320, 180), "teal").save(start, "PNG")
    op = ApiframeVideoGenerateOperator(
        task_id="clip",
        model="kling-2.6",
        prompt="the teapot turns slowly",
        options={"start_image": str(start), "aspect_ratio": "9:16", "duration": 5},
        poll_interval=0.2,
    )
    [url] = run(op)
    data = fetch(url).content
    track = read_mp4(data)
    assert track.height > track.width  # 9:16
    assert track.seconds == pytest.approx(5, abs=0.6)
    streams = probe(data, tmp_path)
    [video] = [s for s in streams["streams"] if s["codec_type"] == "video"]
    assert (video["width"], video["height"]) == (track.width, track.height)
    assert float(streams["format"]["duration"]) == pytest.approx(5, abs=0.6)
    assert apiframe_conn.stats()["uploads"] == 1


def test_upscale_and_edit_take_an_upstream_video_and_keep_its_shape(apiframe_conn):
    [clip] = run(
        ApiframeVideoGenerateOperator(
            task_id="clip",
            model="kling-2.6",
            prompt="waves",
            options={"duration": 5, "aspect_ratio": "9:16"},
            poll_interval=0.2,
        )
    )
    [larger] = run(
        ApiframeVideoUpscaleOperator(
            task_id="upscale",
            model="topaz-video-upscale",
            options={"video": [clip], "target_resolution": "1080p", "target_fps": 30},
            poll_interval=0.2,
        )
    )
    [edited] = run(
        ApiframeVideoEditOperator(
            task_id="edit",
            model="wan-2.7-videoedit",
            prompt="make it night",
            options={"video": clip, "resolution": "720p"},
            poll_interval=0.2,
        )
    )
    upscaled, original = read_mp4(fetch(larger).content), read_mp4(fetch(clip).content)
    assert (upscaled.width, upscaled.height) == (1080, 1920)
    assert upscaled.seconds == pytest.approx(original.seconds, abs=0.6)
    night = read_mp4(fetch(edited).content)
    assert (night.width, night.height) == (720, 1280)


def test_suno_makes_two_songs_then_extends_one(apiframe_conn, tmp_path):
    ti = TaskInstance(task_id="song")
    songs = run(
        ApiframeMusicGenerateOperator(
            task_id="song", model="suno", prompt="a sea shanty", options={"title": "Koi"}, poll_interval=0.2
        ),
        ti,
    )
    assert len(songs) == 2
    seconds, _, _ = wav_seconds(fetch(songs[0]).content)
    assert seconds > 0
    stream = probe(fetch(songs[0]).content, tmp_path)["streams"][0]
    assert stream["codec_type"] == "audio"
    [*extended] = run(
        ApiframeSunoActionOperator(
            task_id="extend", action="extend", parent_job_id=ti.xcom["job_id"], index=1, poll_interval=0.2
        )
    )
    assert extended and all(wav_seconds(fetch(url).content)[0] > 0 for url in extended)


def test_a_suno_action_on_a_job_that_is_not_suno_is_a_permanent_error(apiframe_conn):
    ti = TaskInstance(task_id="song")
    run(ApiframeMusicGenerateOperator(task_id="song", model="udio", prompt="jazz", poll_interval=0.2), ti)
    op = ApiframeSunoActionOperator(task_id="stems", action="stems", parent_job_id=ti.xcom["job_id"], index=1)
    with pytest.raises(ApiframeConflictError):
        op.execute({"ti": TaskInstance(task_id="stems")})


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (
            lambda: ApiframeVideoGenerateOperator(
                task_id="v", model="kling-2.6", prompt="x", options={"duration": 7}
            ),
            "options['duration']",
        ),
        (lambda: ApiframeVideoGenerateOperator(task_id="v", model="kling-2.6", prompt="x" * 4001), "prompt"),
        (lambda: ApiframeMusicGenerateOperator(task_id="m", model="beethoven", prompt="x"), "model"),
        (lambda: ApiframeSunoActionOperator(task_id="s", action="remix", parent_job_id="x"), "action"),
        (
            lambda: ApiframeSunoActionOperator(
                task_id="s", action="extend", parent_job_id="3f0c2a4e-0000-4000-8000-000000000001", index=3
            ),
            "index",
        ),
        (
            lambda: ApiframeVideoUpscaleOperator(
                task_id="u",
                model="topaz-video-upscale",
                options={"video": "https://x.test/v.mp4", "target_fps": 25},
            ),
            "options['target_fps']",
        ),
    ],
)
def test_a_literal_mistake_fails_the_dag_import(make, needle):
    with pytest.raises(ApiframeValidationError) as info:
        make()
    assert needle in str(info.value)


def test_a_missing_required_option_is_named_when_the_task_runs(apiframe_conn):
    op = ApiframeVideoUpscaleOperator(
        task_id="u", model="topaz-video-upscale", options={"video": "https://x.test/v.mp4"}
    )
    with pytest.raises(ApiframeValidationError) as info:
        op.execute({"ti": TaskInstance(task_id="u")})
    assert "options['target_resolution']" in str(info.value) and "options['target_fps']" in str(info.value)
    assert apiframe_conn.stats()["submits"] == 0
