"""The stored data set loaded by the real Hugging Face ``datasets`` library, as a training pipeline would:
one part, several runs appending, writers running at once; each kind of a data set with videos and audio
loaded the way ``storage/data_set.py`` says."""

from __future__ import annotations

import json
import threading
import wave
from pathlib import Path

import pytest

from airflow_provider_apiframe.storage.data_set import read_data_set, upgrade_manifests
from airflow_provider_apiframe.storage.image_store import store_images
from airflow_provider_apiframe.storage.manifest import ADDED_COLUMNS
from tests.storage.conftest import (
    FLUX_WEBP,
    GPT_PAIR,
    IMAGEN_JPG,
    IMAGEN_PNG,
    SONG,
    SONG_MADE,
    VIDEO_TALL,
    VIDEO_TALL_MADE,
    load_data_set,
)

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
    "kind",
    "content_type",
    "duration",
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


def by_kind(tmp_path, make_jobs, images_of):
    """A data set of two parts, images in one, a video and a song in the other; its stored files by kind."""
    images = store_images(images_of(make_jobs(IMAGEN_PNG, FLUX_WEBP)), (tmp_path / "koi").as_uri())
    media = store_images(images_of(make_jobs(VIDEO_TALL, SONG)), (tmp_path / "koi").as_uri())
    return {"image": images, "video": media[:1], "audio": media[1:]}


def test_a_data_set_with_videos_and_audio_loads_its_images_and_videos_with_a_filter(
    make_jobs, images_of, tmp_path
):
    import datasets
    from PIL import UnidentifiedImageError

    stored = by_kind(tmp_path, make_jobs, images_of)
    only = {kind: [("kind", "==", kind)] for kind in stored}

    images = load_data_set(tmp_path / "koi", tmp_path / "cache", filters=only["image"])
    videos = load_data_set(tmp_path / "koi", tmp_path / "cache", "videofolder", filters=only["video"])

    assert set(images.column_names) == COLUMNS
    assert sorted(images["sha256"]) == sorted(image.row.sha256 for image in stored["image"])
    assert {example["image"].size for example in images} == {(1408, 768), (512, 384)}
    # Decoding a video takes torchcodec, which is not installed: the path is what is there without it.
    [video] = videos.cast_column("video", datasets.Video(decode=False))
    [expected] = stored["video"]
    assert video["video"]["path"] == expected.path.removeprefix("file://")
    assert (video["kind"], video["width"], video["height"], video["duration"]) == ("video", *VIDEO_TALL_MADE)
    assert {k: v for k, v in video.items() if k != "video"} == {
        k: v for k, v in json.loads(expected.row.to_line()).items() if k != "file_name"
    }
    # Without the filter, imagefolder lists the video too (it reads the manifests) and fails to decode it.
    everything = load_data_set(tmp_path / "koi", tmp_path / "cache")
    assert len(everything) == 4
    with pytest.raises(UnidentifiedImageError):
        list(everything)


def test_read_data_set_lists_every_file_of_every_kind_with_its_row(make_jobs, images_of, tmp_path):
    stored = by_kind(tmp_path, make_jobs, images_of)

    listed = read_data_set((tmp_path / "koi").as_uri())

    assert sorted((f.path, f.row) for f in listed) == sorted(
        (s.path, s.row) for files in stored.values() for s in files
    )
    [song] = [f for f in listed if f.row.kind == "audio"]
    with wave.open(song.path.removeprefix("file://")) as sound:
        assert (sound.getnframes() / sound.getframerate(), sound.getframerate()) == SONG_MADE
    assert song.row.duration == SONG_MADE[0]
    # A local folder given, local paths back.
    assert {f.path for f in read_data_set(str(tmp_path / "koi"))} == {
        f.path.removeprefix("file://") for f in listed
    }


def test_a_part_written_before_videos_breaks_a_filtered_load_until_upgraded(make_jobs, images_of, tmp_path):
    import datasets
    import pyarrow

    stored = by_kind(tmp_path, make_jobs, images_of)
    old = Path(stored["image"][0].manifest.removeprefix("file://"))
    old.write_text(
        "".join(
            json.dumps({k: v for k, v in json.loads(s.row.to_line()).items() if k not in ADDED_COLUMNS})
            + "\n"
            for s in stored["image"]
        ),
        encoding="utf-8",
    )
    with pytest.raises((datasets.exceptions.DatasetGenerationError, pyarrow.ArrowInvalid)):
        load_data_set(tmp_path / "koi", tmp_path / "cache", filters=[("kind", "==", "image")])
    # The package reads it all the same, with the columns it lacked filled in.
    assert sorted((f.path, f.row) for f in read_data_set(str(tmp_path / "koi"))) == sorted(
        (s.path.removeprefix("file://"), s.row) for files in stored.values() for s in files
    )

    assert upgrade_manifests(str(tmp_path / "koi")) == [str(old)]

    images = load_data_set(tmp_path / "koi", tmp_path / "cache2", filters=[("kind", "==", "image")])
    assert sorted(images["sha256"]) == sorted(s.row.sha256 for s in stored["image"])
    assert set(images["content_type"]) == {"image/png", "image/webp"}


def test_audiofolder_needs_torchcodec_even_to_build_the_table(make_jobs, images_of, tmp_path):
    """What ``storage/data_set.py`` says, kept true: if torchcodec comes along, the docs must change."""
    import importlib.util

    import datasets

    if importlib.util.find_spec("torchcodec") is not None:
        pytest.skip("torchcodec is installed here: audiofolder may load (say so in storage/data_set.py)")
    by_kind(tmp_path, make_jobs, images_of)
    with pytest.raises(datasets.exceptions.DatasetGenerationError) as raised:
        load_data_set(tmp_path / "koi", tmp_path / "cache", "audiofolder", filters=[("kind", "==", "audio")])
    assert "torchcodec" in str(raised.value.__cause__)
