"""``store_images`` against the emulator's CDN over loopback (and small servers for what it cannot do):
what lands where, skipping, atomicity, retries, typed errors, streaming."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tracemalloc
import uuid
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from PIL import Image

from airflow_provider_apiframe.exceptions import (
    ApiframeNotFoundError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.storage import cdn as cdn_client
from airflow_provider_apiframe.storage import image_store, media_probe
from airflow_provider_apiframe.storage.image_store import ImageToStore, data_set_path, store_images
from airflow_provider_apiframe.storage.manifest import METADATA_FILE, part_name
from tests.storage.conftest import FLUX_WEBP, GPT_PAIR, IMAGEN_JPG, IMAGEN_PNG, files_under
from tests.storage.servers import cut_short, fixed, huge, serve


def manifest_rows(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def random_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_each_image_lands_in_its_part_with_a_manifest_row(make_jobs, images_of, tmp_path):
    jobs = make_jobs(IMAGEN_PNG, IMAGEN_JPG, FLUX_WEBP, GPT_PAIR)
    images = images_of(jobs)
    stored = store_images(images, tmp_path.as_uri())

    part = tmp_path / part_name(image_store.jobs_writer(jobs))
    assert [s.path for s in stored] == [(part / s.row.file_name).as_uri() for s in stored]
    assert [s.row.source_url for s in stored] == [image.url for image in images]
    assert {s.manifest for s in stored} == {(part / METADATA_FILE).as_uri()}
    assert all(s.copied for s in stored)
    # Named by job and number, with the extension of what the bytes are.
    assert [s.row.file_name for s in stored] == [
        f"{jobs[0]}-1.png",
        f"{jobs[1]}-1.jpg",
        f"{jobs[2]}-1.webp",
        f"{jobs[3]}-1.webp",
        f"{jobs[3]}-2.webp",
    ]
    # The part holds the images and the manifest, nothing else (no temporary file).
    assert sorted(p.name for p in part.iterdir()) == sorted(
        [METADATA_FILE, *(s.row.file_name for s in stored)]
    )
    rows = manifest_rows(part / METADATA_FILE)
    assert rows == [json.loads(s.row.to_line()) for s in stored]
    submitted = [IMAGEN_PNG, IMAGEN_JPG, FLUX_WEBP, GPT_PAIR, GPT_PAIR]
    # Imagen's documented sizes and flux's own width and height; GPT Image's is the API's choice.
    sizes = [(1408, 768), (1024, 1024), (512, 384), None, None]
    for row, (model, prompt, options), size in zip(rows, submitted, sizes, strict=True):
        data = (part / row["file_name"]).read_bytes()
        with Image.open(part / row["file_name"]) as image:
            assert (row["width"], row["height"]) == image.size == (size or image.size)
            assert image.format.lower().replace("jpeg", "jpg") == row["file_name"].rpartition(".")[2]
        assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["bytes"] == len(data)
        assert (row["model"], row["prompt"], json.loads(row["options"])) == (model, prompt, options)
        assert row["credits"] > 0 and row["created_at"].endswith("Z") and row["id"] == ""


def test_storing_the_same_jobs_again_copies_nothing(emulator, make_jobs, images_of, tmp_path):
    jobs = make_jobs(IMAGEN_PNG, GPT_PAIR)
    first = store_images(images_of(jobs), tmp_path.as_uri())
    before = files_under(tmp_path)
    # From now on the CDN has nothing: any download would fail the store.
    emulator.add_faults({"action": "status", "path": "/cdn/", "status": 410, "times": 100})

    again = store_images(images_of(jobs), tmp_path.as_uri())

    assert [s.row for s in again] == [s.row for s in first]
    assert not any(s.copied for s in again)
    assert "410" not in emulator.stats()["responses_by_status"]
    # Same files, untouched (but for the manifest, rewritten whole with the same rows).
    after = files_under(tmp_path)
    manifest = next(name for name in before if name.endswith(METADATA_FILE))
    assert {k: v for k, v in after.items() if k != manifest} == {
        k: v for k, v in before.items() if k != manifest
    }
    assert after.keys() == before.keys()


def test_a_file_stored_before_its_manifest_was_written_is_hashed_not_downloaded(
    emulator, make_jobs, images_of, tmp_path
):
    jobs = make_jobs(IMAGEN_JPG, FLUX_WEBP)
    first = store_images(images_of(jobs), tmp_path.as_uri())
    os.remove(first[0].manifest.removeprefix("file://"))  # a try that died between the two
    emulator.add_faults({"action": "status", "path": "/cdn/", "status": 410, "times": 100})

    again = store_images(images_of(jobs), tmp_path.as_uri())

    assert [s.row for s in again] == [s.row for s in first] and not any(s.copied for s in again)
    assert manifest_rows(first[0].manifest.removeprefix("file://")) == [
        json.loads(s.row.to_line()) for s in first
    ]


def test_a_manifest_line_edited_by_hand_is_ignored_and_its_image_looked_at_again(
    emulator, make_jobs, images_of, tmp_path
):
    jobs = make_jobs(IMAGEN_PNG, IMAGEN_JPG)
    first = store_images(images_of(jobs), tmp_path.as_uri())
    manifest = Path(first[0].manifest.removeprefix("file://"))
    good, _ = manifest.read_text(encoding="utf-8").splitlines()
    manifest.write_text(good + '\n{"file_name": "x.png", "width": "wide"}\nnot json\n', encoding="utf-8")
    emulator.add_faults({"action": "status", "path": "/cdn/", "status": 410, "times": 100})

    again = store_images(images_of(jobs), tmp_path.as_uri())

    assert [s.row for s in again] == [s.row for s in first] and not any(s.copied for s in again)
    assert manifest_rows(manifest) == [json.loads(s.row.to_line()) for s in first]


def test_a_file_that_is_not_what_the_manifest_records_is_copied_again(make_jobs, images_of, tmp_path):
    jobs = make_jobs(IMAGEN_PNG, IMAGEN_JPG)
    first = store_images(images_of(jobs), tmp_path.as_uri())
    damaged = first[0].path.removeprefix("file://")
    with open(damaged, "r+b") as file:
        file.truncate(100)

    again = store_images(images_of(jobs), tmp_path.as_uri())

    assert [s.copied for s in again] == [True, False]
    assert hashlib.sha256(Path(damaged).read_bytes()).hexdigest() == first[0].row.sha256


def test_a_download_cut_midway_leaves_no_file_and_no_temporary_file(monkeypatch, tmp_path):
    monkeypatch.setattr(cdn_client, "backoff", lambda attempt: 0.0)
    body = random_png(400)
    with serve(cut_short(body)) as cdn:
        image = ImageToStore(url=f"{cdn.url}/koi-1.png", job_id=str(uuid.uuid4()))
        with pytest.raises(ApiframeTransientError) as raised:
            store_images([image], tmp_path.as_uri())
    assert image.url in str(raised.value)
    # Every try was made, and no more: bounded.
    assert len(cdn.requests) == cdn_client.DOWNLOAD_TRIES
    # Not the image under its name, not a hidden temporary file, not a manifest without rows.
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_answer_that_is_not_an_image_is_refused_after_its_tries(monkeypatch, tmp_path):
    monkeypatch.setattr(cdn_client, "backoff", lambda attempt: 0.0)
    with serve(fixed(200, b"<html>Service busy</html>", "text/html")) as cdn:
        image = ImageToStore(url=f"{cdn.url}/koi-1.png", job_id=str(uuid.uuid4()))
        with pytest.raises(ApiframeUnexpectedResponseError, match="not give a PNG, JPEG or WEBP"):
            store_images([image], tmp_path.as_uri())
    assert len(cdn.requests) == cdn_client.DOWNLOAD_TRIES
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_transient_cdn_faults_are_ridden_out(emulator, make_jobs, images_of, tmp_path, monkeypatch):
    monkeypatch.setattr(cdn_client, "backoff", lambda attempt: 0.0)
    jobs = make_jobs(IMAGEN_PNG)
    emulator.add_faults(
        {"action": "status", "path": "/cdn/", "status": 503, "times": 2},
        {"action": "drop_before", "path": "/cdn/", "times": 1},
    )
    [stored] = store_images(images_of(jobs), tmp_path.as_uri())
    assert stored.copied and emulator.stats()["responses_by_status"]["503"] == 2
    assert emulator.stats()["dropped_connections"] == 1


def test_images_gone_from_the_cdn_fail_for_good_and_the_others_are_kept(
    emulator, make_jobs, images_of, tmp_path
):
    jobs = make_jobs(IMAGEN_PNG, IMAGEN_JPG)
    images = images_of(jobs)
    kept = store_images(images[:1], tmp_path.as_uri(), writer="koi")
    emulator.advance_clock(25 * 3600)  # past the CDN's 24 hours

    with pytest.raises(ApiframeNotFoundError, match=r"1 of 2 files could not be stored.*24 hours") as raised:
        store_images(images, tmp_path.as_uri(), writer="koi")

    # Permanent: Airflow fails the task without spending its retries.
    assert isinstance(raised.value, AirflowFailException)
    # The image stored before is still there and listed; the gone one has no file and no row.
    assert manifest_rows(kept[0].manifest.removeprefix("file://")) == [json.loads(kept[0].row.to_line())]
    assert not list(tmp_path.rglob(f"{jobs[1]}*"))


def test_a_memory_destination_takes_the_same_layout(make_jobs, images_of):
    import fsspec

    root = f"/apiframe-store-tests/{uuid.uuid4().hex}"
    memory = fsspec.filesystem("memory")
    try:
        jobs = make_jobs(IMAGEN_PNG, FLUX_WEBP)
        stored = store_images(images_of(jobs), f"memory://{root}/koi")
        again = store_images(images_of(jobs), f"memory://{root}/koi")

        part = f"{root}/koi/{part_name(image_store.jobs_writer(jobs))}"
        assert sorted(memory.ls(part, detail=False)) == sorted(
            f"{part}/{name}" for name in [METADATA_FILE, *(s.row.file_name for s in stored)]
        )
        rows = [json.loads(line) for line in memory.cat_file(f"{part}/{METADATA_FILE}").decode().splitlines()]
        assert [row["file_name"] for row in rows] == [s.row.file_name for s in stored]
        assert memory.cat_file(f"{part}/{stored[0].row.file_name}")[:8] == b"\x89PNG\r\n\x1a\n"
        assert all(s.copied for s in stored) and not any(s.copied for s in again)
        assert data_set_path(stored[0].path).exists()
    finally:
        if memory.exists(root):
            memory.rm(root, recursive=True)


def test_a_large_image_streams_through_a_bounded_amount_of_memory(tmp_path):
    import requests.adapters  # noqa: F401 - loaded before measuring: its import is not the copy

    side = 20_000
    head = b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + side.to_bytes(4, "big") * 2
    block, blocks = bytes(1 << 20), 32
    with serve(huge(head, block, blocks)) as cdn:
        image = ImageToStore(url=f"{cdn.url}/big-1.png", job_id=str(uuid.uuid4()))
        tracemalloc.start()
        try:
            [stored] = store_images([image], tmp_path.as_uri())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    expected = hashlib.sha256(head)
    for _ in range(blocks):
        expected.update(block)
    assert (stored.row.bytes, stored.row.sha256) == (len(head) + blocks * len(block), expected.hexdigest())
    assert (stored.row.width, stored.row.height) == (side, side)
    # 32 MiB went through; what was held at once is a few chunks, not the image.
    assert peak < 4 * cdn_client.CHUNK_BYTES + media_probe.HEADER_LIMIT, peak


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "s3://bucket/koi.png"}, "url"),
        ({"job_id": "../../koi"}, "job_id"),
        ({"number": 0}, "number"),
    ],
)
def test_an_image_that_cannot_be_stored_safely_is_refused(fields, field):
    values = {"url": "https://cdn.example/x-1.png", "job_id": str(uuid.uuid4()), **fields}
    with pytest.raises(ApiframeValidationError) as raised:
        ImageToStore(**values)
    assert field in raised.value.details


def test_a_destination_nothing_can_write_to_is_refused_before_any_download():
    with pytest.raises(ApiframeValidationError, match="nosuchfs://"):
        data_set_path("nosuchfs://bucket/koi")
    with pytest.raises(ApiframeValidationError, match="connection 'memory_creds' cannot be used"):
        data_set_path("memory://koi", conn_id="memory_creds")
