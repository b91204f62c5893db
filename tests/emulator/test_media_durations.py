"""How long video and music jobs take: the image jobs' median times a factor the config exposes."""

from __future__ import annotations

import statistics

import pytest

from airflow_provider_apiframe.emulator import EmulatorConfig
from airflow_provider_apiframe.emulator.__main__ import _config, _parser
from tests.emulator.conftest import Api

VIDEO = ("/v2/videos/generate", {"model": "sora-2", "prompt": "koi"})
SONG = ("/v2/music/generate", {"model": "udio", "prompt": "koi"})
IMAGE = ("/v2/images/generate", {"model": "imagen-4-fast", "prompt": "koi"})


def lengths(api: Api, kind: tuple[str, dict], count: int) -> list[float]:
    path, body = kind
    job_ids = [api.new_job(body={**body, "prompt": f"koi {i}"}, path=path) for i in range(count)]
    return [api.server.controls.state.jobs[job_id].duration for job_id in job_ids]


def test_by_default_videos_take_ten_and_songs_five_image_jobs(apiframe_emulator_factory, clock):
    defaults = EmulatorConfig()
    assert (defaults.job_duration, defaults.video_duration_factor, defaults.music_duration_factor) == (
        2.0,
        10.0,
        5.0,
    )
    api = Api(
        apiframe_emulator_factory(
            clock=clock,
            job_duration=2.0,
            video_duration_factor=10.0,
            music_duration_factor=5.0,
            credits=10**6,
        )
    )
    assert lengths(api, VIDEO, 2) == [20.0, 20.0]
    assert lengths(api, SONG, 2) == [10.0, 10.0]
    assert lengths(api, IMAGE, 2) == [2.0, 2.0]


def test_lognormal_lengths_scale_with_the_factor_and_markers_still_win(apiframe_emulator_factory, clock):
    api = Api(
        apiframe_emulator_factory(
            clock=clock,
            job_duration=3.0,
            duration_sigma=0.4,
            seed=7,
            video_duration_factor=20.0,
            credits=10**7,
        )
    )
    videos = lengths(api, VIDEO, 200)
    assert statistics.median(videos) == pytest.approx(60.0, rel=0.12)
    assert len(set(videos)) == 200
    job_id = api.new_job(body={"model": "sora-2", "prompt": "koi [duration:1.5]"}, path=VIDEO[0])
    assert api.server.controls.state.jobs[job_id].duration == 1.5


def test_a_video_job_advances_through_queued_and_processing_on_its_longer_clock(
    apiframe_emulator_factory, clock
):
    api = Api(
        apiframe_emulator_factory(clock=clock, job_duration=1.0, video_duration_factor=30.0, credits=10**6)
    )
    job_id = api.new_job(body=VIDEO[1], path=VIDEO[0])
    assert api.job(job_id)["status"] == "QUEUED"
    clock.now += 15
    middle = api.job(job_id)
    assert middle["status"] == "PROCESSING" and 0 < middle["progress"] < 100
    clock.now += 15
    assert api.job(job_id)["status"] == "COMPLETED"


def test_the_plugin_fixture_keeps_media_jobs_short(apiframe_emulator_factory):
    server = apiframe_emulator_factory()
    assert (server.config.video_duration_factor, server.config.music_duration_factor) == (2.0, 2.0)
    api = Api(server)
    assert lengths(api, SONG, 1) == [pytest.approx(0.6)]


@pytest.mark.parametrize(
    "bad", [{"video_duration_factor": -1}, {"music_duration_factor": -0.5}, {"upload_ttl": -1}]
)
def test_negative_factors_and_ttls_are_refused(bad):
    with pytest.raises(ValueError):
        EmulatorConfig(**bad)


def test_the_command_line_sets_the_factors_and_the_upload_ttl():
    config = _config(
        _parser().parse_args(
            ["--video-duration-factor", "30", "--music-duration-factor", "6", "--upload-ttl", "90"]
        )
    )
    assert (config.video_duration_factor, config.music_duration_factor, config.upload_ttl) == (
        30.0,
        6.0,
        90.0,
    )
