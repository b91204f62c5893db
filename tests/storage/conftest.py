from __future__ import annotations

import time
import uuid

import pytest

from airflow_provider_apiframe.wire.jobs import JobStatus

# One of each format the CDN serves, at sizes that tell them apart: (model, prompt, options, images).
IMAGEN_PNG = ("imagen-4", "koi under lotus leaves", {"output_format": "png", "aspect_ratio": "16:9"})
IMAGEN_JPG = ("imagen-4", "a stone lantern by a pond", {"output_format": "jpg"})
FLUX_WEBP = ("flux-1.1-pro", "a heron, ink drawing", {"output_format": "webp", "width": 512, "height": 384})
GPT_PAIR = ("gpt-image-1.5", "two paper cranes", {"output_format": "webp", "number_of_images": 2})
# Videos and songs: (endpoint, model, prompt, options). The emulator makes a video's short side from its
# resolution (720p by default) and its shape from its aspect ratio, a song as long as asked (8 s at 8 kHz
# by default, two per Suno call).
VIDEO_TALL = (
    "/v2/videos/generate",
    "seedance-1-lite",
    "koi rising to the surface",
    {"aspect_ratio": "9:16", "duration": 5, "resolution": "480p"},
)
VIDEO_WIDE = (
    "/v2/videos/generate",
    "kling-2.6",
    "a heron takes off",
    {"aspect_ratio": "16:9", "duration": 5},
)
SONG = (
    "/v2/music/generate",
    "elevenlabs-music",
    "a calm koto tune",
    {"music_length_ms": 6000, "output_format": "wav_16khz"},
)
SUNO_PAIR = ("/v2/music/generate", "suno", "a sea shanty", {})
# What the emulator makes of each: (width, height, seconds) of a video, (seconds, sample rate) of a song.
VIDEO_TALL_MADE = (480, 854, 5.0)
VIDEO_WIDE_MADE = (1280, 720, 5.0)
SONG_MADE = (6.0, 16000)
SUNO_MADE = (8.0, 8000)


@pytest.fixture(scope="session", autouse=True)
def huggingface_home(tmp_path_factory):
    """``datasets`` keeps its cache and locks under HF_HOME: a throwaway one, not the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture
def hook(apiframe_conn):
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

    return ApiframeHook()


@pytest.fixture
def make_jobs(hook):
    """
    Submit each (model, prompt, options) image generation or (endpoint, model, prompt, options) job, and
    wait for every job to end; returns their ids in order.
    """

    def submit(submission: tuple) -> str:
        if len(submission) == 3:
            return hook.submit_generation(*submission)
        from airflow_provider_apiframe.catalogue.model_specs import get_model

        # No Operation for videos and music yet: the body as the catalogue builds it, sent as it is.
        path, model, prompt, options = submission
        body = get_model(model, path).request_body(prompt, options)
        return hook.submit(body, f"storage-tests-{uuid.uuid4()}", path=path).job_id

    def make(*submissions: tuple) -> list[str]:
        ids = [submit(submission) for submission in submissions]
        deadline = time.monotonic() + 30
        while not all(hook.get_job(job_id).status.is_terminal for job_id in ids):
            assert time.monotonic() < deadline, "the emulator's jobs never ended"
            time.sleep(0.1)
        return ids

    return make


@pytest.fixture
def images_of(hook):
    """The images to store of finished jobs, as the store operator reads them."""
    from airflow_provider_apiframe.storage.image_store import images_from_job
    from airflow_provider_apiframe.wire.transport import job_request

    def read(job_ids: list[str]) -> list:
        images = []
        for job_id in job_ids:
            answer = hook.transport.send(job_request(job_id))
            assert answer["status"] == JobStatus.COMPLETED
            images += images_from_job(answer)
        return images

    return read


def load_data_set(data_dir, cache_dir, builder="imagefolder", **options):
    """The data set as a training pipeline loads it: the real loader, no glue code."""
    import datasets

    datasets.disable_progress_bars()
    return datasets.load_dataset(
        builder, data_dir=str(data_dir), split="train", cache_dir=str(cache_dir), **options
    )


def files_under(root) -> dict[str, tuple[int, int]]:
    """Every file below ``root`` (hidden ones too) with its inode and modification time in ns."""
    return {
        str(path.relative_to(root)): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
