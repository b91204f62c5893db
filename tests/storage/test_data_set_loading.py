"""The stored data set loaded by the real Hugging Face ``datasets`` library, as a training pipeline would:
one part, several runs appending, writers running at once."""

from __future__ import annotations

import json
import threading

from airflow_provider_apiframe.storage.image_store import store_images
from tests.storage.conftest import FLUX_WEBP, GPT_PAIR, IMAGEN_JPG, IMAGEN_PNG, load_data_set

COLUMNS = {
    "image",
    "id",
    "job_id",
    "prompt",
    "model",
    "options",
    "source_url",
    "sha256",
    "width",
    "height",
    "bytes",
    "credits",
    "created_at",
}


def by_file(data_set) -> dict[str, dict]:
    """Each example by its image's file name; ``file_name`` itself became the decoded ``image``."""
    return {example["source_url"].rpartition("/")[2].rpartition(".")[0]: example for example in data_set}


def test_the_images_and_every_column_load_with_no_glue_code(make_jobs, images_of, tmp_path):
    jobs = make_jobs(IMAGEN_PNG, IMAGEN_JPG, FLUX_WEBP, GPT_PAIR)
    stored = store_images(images_of(jobs), (tmp_path / "koi").as_uri())

    data_set = load_data_set(tmp_path / "koi", tmp_path / "cache")

    assert set(data_set.column_names) == COLUMNS and len(data_set) == len(stored) == 5
    examples = by_file(data_set)
    for image in stored:
        example = examples[image.row.file_name.rpartition(".")[0]]
        assert example["image"].size == (image.row.width, image.row.height)
        assert (
            example["image"].format.lower().replace("jpeg", "jpg") == image.row.file_name.rpartition(".")[2]
        )
        assert {k: v for k, v in example.items() if k != "image"} == {
            k: v for k, v in json.loads(image.row.to_line()).items() if k != "file_name"
        }
    assert examples[f"{jobs[0]}-1"]["image"].size == (1408, 768)
    assert json.loads(examples[f"{jobs[2]}-1"]["options"]) == FLUX_WEBP[2]


def test_runs_append_parts_that_load_as_one_data_set(make_jobs, images_of, tmp_path):
    data_set = tmp_path / "koi"
    # Runs whose parameter blocks have different keys: kept whole in every part.
    first = store_images(images_of(make_jobs(IMAGEN_PNG, IMAGEN_JPG)), data_set.as_uri())
    # A pipeline that loaded the data set before, with the same cache, sees the parts added since.
    assert len(load_data_set(data_set, tmp_path / "cache")) == 2
    second = store_images(images_of(make_jobs(FLUX_WEBP)), data_set.as_uri())
    third = store_images(images_of(make_jobs(GPT_PAIR)), data_set.as_uri())
    assert len({image.manifest for image in first + second + third}) == 3

    loaded = load_data_set(data_set, tmp_path / "cache")

    assert sorted(loaded["sha256"]) == sorted(image.row.sha256 for image in first + second + third)
    assert sorted(json.dumps(json.loads(o), sort_keys=True) for o in loaded["options"]) == sorted(
        json.dumps(s[2], sort_keys=True) for s in (IMAGEN_PNG, IMAGEN_JPG, FLUX_WEBP, GPT_PAIR, GPT_PAIR)
    )


def test_writers_running_at_once_lose_no_rows(make_jobs, images_of, tmp_path):
    import datasets

    jobs = make_jobs(*[(*IMAGEN_JPG[:1], f"koi number {n}", IMAGEN_JPG[2]) for n in range(8)], FLUX_WEBP)
    images = images_of(jobs)
    # Eight writers each with their own job, and two more storing the same job into the same part.
    batches = [[image] for image in images[:8]] + [images[8:], images[8:]]
    start = threading.Barrier(len(batches))
    results: list = [None] * len(batches)

    def write(index: int) -> None:
        start.wait()
        results[index] = store_images(batches[index], (tmp_path / "koi").as_uri())

    threads = [threading.Thread(target=write, args=(index,)) for index in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(results) and results[8][0].row == results[9][0].row
    loaded = load_data_set(tmp_path / "koi", tmp_path / "cache")
    assert sorted(loaded["job_id"]) == sorted(jobs)
    assert sorted(loaded["prompt"]) == sorted([f"koi number {n}" for n in range(8)] + [FLUX_WEBP[1]])
    # One split: part names are hex, never read as train/test/validation.
    assert list(
        datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "koi"), cache_dir=str(tmp_path / "c2"))
    ) == ["train"]
