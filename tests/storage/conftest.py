from __future__ import annotations

import time

import pytest

from airflow_provider_apiframe.wire.jobs import JobStatus

# One of each format the CDN serves, at sizes that tell them apart: (model, prompt, options, images).
IMAGEN_PNG = ("imagen-4", "koi under lotus leaves", {"output_format": "png", "aspect_ratio": "16:9"})
IMAGEN_JPG = ("imagen-4", "a stone lantern by a pond", {"output_format": "jpg"})
FLUX_WEBP = ("flux-1.1-pro", "a heron, ink drawing", {"output_format": "webp", "width": 512, "height": 384})
GPT_PAIR = ("gpt-image-1.5", "two paper cranes", {"output_format": "webp", "number_of_images": 2})


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
    """Submit each (model, prompt, options) and wait for every job to end; returns their ids in order."""

    def make(*submissions: tuple[str, str, dict]) -> list[str]:
        ids = [hook.submit_generation(model, prompt, options) for model, prompt, options in submissions]
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


def load_data_set(data_dir, cache_dir):
    """The data set as a training pipeline loads it: the real loader, no glue code."""
    import datasets

    datasets.disable_progress_bars()
    return datasets.load_dataset(
        "imagefolder", data_dir=str(data_dir), split="train", cache_dir=str(cache_dir)
    )


def files_under(root) -> dict[str, tuple[int, int]]:
    """Every file below ``root`` (hidden ones too) with its inode and modification time in ns."""
    return {
        str(path.relative_to(root)): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
