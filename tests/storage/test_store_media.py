"""``store_images`` with videos and audio: the emulator's MP4s and WAVs stored beside images, with their kind,
content type, size and length in the manifest; dedup, refusals, damaged files, caps and older manifests."""

from __future__ import annotations

import io
import json
import logging
import struct
import tracemalloc
import uuid
import wave
from pathlib import Path

import pytest
import requests
from PIL import Image

from airflow_provider_apiframe.emulator.recipes import VideoRecipe
from airflow_provider_apiframe.emulator.video import render_video
from airflow_provider_apiframe.exceptions import (
    ApiframePermanentError,
    ApiframeResponseTooLargeError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
)
from airflow_provider_apiframe.storage import cdn as cdn_client
from airflow_provider_apiframe.storage import image_store, iso_media
from airflow_provider_apiframe.storage.data_set import data_set_path, upgrade_manifests
from airflow_provider_apiframe.storage.image_store import ImageToStore, download_images, store_images
from airflow_provider_apiframe.storage.manifest import ADDED_COLUMNS, METADATA_FILE, part_name
from tests.storage.conftest import (
    IMAGEN_JPG,
    IMAGEN_PNG,
    SONG,
    SONG_MADE,
    SUNO_MADE,
    SUNO_PAIR,
    VIDEO_TALL,
    VIDEO_TALL_MADE,
    VIDEO_WIDE,
    VIDEO_WIDE_MADE,
    files_under,
)
from tests.storage.servers import files, fixed, huge, serve

EVERY_KIND = "a PNG, JPEG or WEBP image, an MP4, MOV or WebM video or WAV, MP3, OGG or M4A audio"


def manifest_rows(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def top_level_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, size) of each top-level box; they must tile the file exactly (32-bit sizes only)."""
    boxes, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        assert size >= 8, (kind, size)
        boxes.append((kind, at, size))
        at += size
    assert at == len(data)
    return boxes


def check_mp4(data: bytes, size: tuple[int, int]) -> None:
    """An MP4 as the emulator writes it: ftyp, moov, mdat; the mdat's first frame a JPEG of its size."""
    boxes = top_level_boxes(data)
    assert [kind for kind, _, _ in boxes] == [b"ftyp", b"moov", b"mdat"]
    _, mdat, _ = boxes[2]
    with Image.open(io.BytesIO(data[mdat + 8 :])) as frame:
        assert frame.format == "JPEG" and frame.size == size


def check_wav(data: bytes, seconds: float, rate: int) -> None:
    with wave.open(io.BytesIO(data)) as sound:
        assert (sound.getframerate(), sound.getnchannels(), sound.getsampwidth()) == (rate, 1, 2)
        assert sound.getnframes() / sound.getframerate() == seconds


def moov_last(mp4: bytes) -> bytes:
    """The same file with its moov after the media data, as a muxer without a second pass writes it."""
    boxes = top_level_boxes(mp4)
    return b"".join(mp4[start : start + size] for kind, start, size in boxes if kind != b"moov") + next(
        mp4[start : start + size] for kind, start, size in boxes if kind == b"moov"
    )


def an_output(url: str, number: int = 1) -> ImageToStore:
    return ImageToStore(url=url, job_id=str(uuid.uuid4()), number=number)


def test_videos_and_songs_land_beside_images_with_their_kind_type_size_and_length(
    make_jobs, images_of, tmp_path
):
    jobs = make_jobs(IMAGEN_PNG, VIDEO_TALL, VIDEO_WIDE, SONG, SUNO_PAIR)
    outputs = images_of(jobs)
    assert len(outputs) == 6  # Suno's call makes two songs

    stored = store_images(outputs, tmp_path.as_uri())

    part = tmp_path / part_name(image_store.jobs_writer(jobs))
    assert [s.row.file_name for s in stored] == [
        f"{jobs[0]}-1.png",
        f"{jobs[1]}-1.mp4",
        f"{jobs[2]}-1.mp4",
        f"{jobs[3]}-1.wav",
        f"{jobs[4]}-1.wav",
        f"{jobs[4]}-2.wav",
    ]
    assert sorted(p.name for p in part.iterdir()) == sorted(
        [METADATA_FILE, *(s.row.file_name for s in stored)]
    )
    rows = manifest_rows(part / METADATA_FILE)
    assert rows == [json.loads(s.row.to_line()) for s in stored]
    described = [
        (row["kind"], row["content_type"], row["width"], row["height"], row["duration"]) for row in rows
    ]
    assert described == [
        ("image", "image/png", 1408, 768, 0.0),
        ("video", "video/mp4", *VIDEO_TALL_MADE),
        ("video", "video/mp4", *VIDEO_WIDE_MADE),
        ("audio", "audio/wav", 0, 0, SONG_MADE[0]),
        ("audio", "audio/wav", 0, 0, SUNO_MADE[0]),
        ("audio", "audio/wav", 0, 0, SUNO_MADE[0]),
    ]
    # One type per column, whatever the kind: a float duration even where it is whole.
    assert all(isinstance(row["duration"], float) for row in rows)
    check_mp4((part / rows[1]["file_name"]).read_bytes(), VIDEO_TALL_MADE[:2])
    check_mp4((part / rows[2]["file_name"]).read_bytes(), VIDEO_WIDE_MADE[:2])
    check_wav((part / rows[3]["file_name"]).read_bytes(), *SONG_MADE)
    check_wav((part / rows[5]["file_name"]).read_bytes(), *SUNO_MADE)
    # The video's block as sent, and the job's model and prompt, as for an image.
    assert (rows[1]["model"], rows[1]["prompt"], json.loads(rows[1]["options"])) == VIDEO_TALL[1:]


def test_a_memory_destination_takes_videos_and_songs_too(make_jobs, images_of):
    import fsspec

    root = f"/apiframe-store-tests/{uuid.uuid4().hex}"
    memory = fsspec.filesystem("memory")
    try:
        jobs = make_jobs(VIDEO_TALL, SONG)
        stored = store_images(images_of(jobs), f"memory://{root}/media")

        part = f"{root}/media/{part_name(image_store.jobs_writer(jobs))}"
        assert [s.path.rpartition("/")[2] for s in stored] == [f"{jobs[0]}-1.mp4", f"{jobs[1]}-1.wav"]
        assert all(data_set_path(s.path).exists() for s in stored)
        rows = [json.loads(line) for line in memory.cat_file(f"{part}/{METADATA_FILE}").decode().splitlines()]
        assert [(r["kind"], r["width"], r["height"], r["duration"]) for r in rows] == [
            ("video", *VIDEO_TALL_MADE),
            ("audio", 0, 0, SONG_MADE[0]),
        ]
        check_mp4(memory.cat_file(f"{part}/{jobs[0]}-1.mp4"), VIDEO_TALL_MADE[:2])
        check_wav(memory.cat_file(f"{part}/{jobs[1]}-1.wav"), *SONG_MADE)
        # No temporary file left behind.
        assert len(memory.ls(part)) == 3
    finally:
        if memory.exists(root):
            memory.rm(root, recursive=True)


def test_storing_videos_and_songs_again_copies_nothing(emulator, make_jobs, images_of, tmp_path):
    jobs = make_jobs(VIDEO_WIDE, SUNO_PAIR)
    first = store_images(images_of(jobs), tmp_path.as_uri())
    before = files_under(tmp_path)
    manifest = next(name for name in before if name.endswith(METADATA_FILE))
    # The CDN has nothing from now on: a download would fail the store.
    emulator.add_faults({"action": "status", "path": "/cdn/", "status": 410, "times": 100})

    again = store_images(images_of(jobs), tmp_path.as_uri())
    # A try that died before writing its manifest: the files are hashed and read again, not downloaded.
    Path(first[0].manifest.removeprefix("file://")).unlink()
    after_loss = store_images(images_of(jobs), tmp_path.as_uri())

    assert [s.row for s in again] == [s.row for s in after_loss] == [s.row for s in first]
    assert not any(s.copied for s in again + after_loss)
    assert "410" not in emulator.stats()["responses_by_status"]
    after = files_under(tmp_path)
    assert {k: v for k, v in after.items() if k != manifest} == {
        k: v for k, v in before.items() if k != manifest
    }


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!doctype html><html><body>Service busy</body></html>", "text/html"),
        (json.dumps({"error": "not found", "videos": []}).encode(), "application/json"),
        (b"GIF89a" + bytes(64), "image/gif"),  # an input type, never an output: no data set keeps it
    ],
)
def test_an_answer_that_is_no_media_is_refused_and_nothing_is_written(
    monkeypatch, tmp_path, body, content_type
):
    monkeypatch.setattr(cdn_client, "backoff", lambda attempt: 0.0)
    refused = pytest.raises(ApiframeUnexpectedResponseError, match=f"did not give {EVERY_KIND}")
    with serve(fixed(200, body, content_type)) as server, refused:
        store_images([an_output(f"{server.url}/x-1.mp4")], tmp_path.as_uri())
    assert len(server.requests) == cdn_client.DOWNLOAD_TRIES
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_download_images_takes_images_only_and_refuses_a_video_for_good(tmp_path):
    mp4 = render_video(VideoRecipe(64, 64, 1.0, "koi", "koi"))
    refused = pytest.raises(ApiframePermanentError, match="kind 'video', not a PNG, JPEG or WEBP image")
    with serve(files({"/v-1.mp4": mp4}, "video/mp4")) as server, refused:
        download_images([server.url + "/v-1.mp4"], tmp_path, max_bytes=10**6, log=logging.getLogger(__name__))
    # No retry: the file is whole, just not what was asked for.
    assert len(server.requests) == 1 and list(tmp_path.iterdir()) == []


def test_a_large_body_that_is_no_media_is_refused_at_its_first_bytes(monkeypatch, tmp_path):
    monkeypatch.setattr(cdn_client, "DOWNLOAD_TRIES", 1)
    blocks = 64
    refused = pytest.raises(ApiframeUnexpectedResponseError, match=r"\((\d+) bytes read\)")
    with serve(huge(b"<html>" + bytes(1000), bytes(1 << 20), blocks)) as server, refused as raised:
        store_images([an_output(f"{server.url}/x-1.mp4")], tmp_path.as_uri())
    read = int(str(raised.value).rpartition("(")[2].split()[0])
    # Refused with the first chunk, not after 64 MiB.
    assert read <= cdn_client.CHUNK_BYTES
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_truncated_and_garbled_videos_are_stored_with_what_could_be_read(tmp_path):
    mp4 = render_video(VideoRecipe(320, 240, 1.0, "koi", "koi"))
    (ftyp, _, ftyp_size), (moov, moov_start, moov_size), _ = top_level_boxes(mp4)
    bodies = {
        # Cut inside the moov: the mvhd and tkhd are not there whole.
        "/cut-in-moov.mp4": mp4[: moov_start + 60],
        # Cut in the media data: the moov (first) is whole, so everything is known.
        "/cut-in-mdat.mp4": mp4[: len(mp4) // 2],
        # A moov whose size says more than the file holds.
        "/moov-too-long.mp4": mp4[:moov_start] + struct.pack(">I", len(mp4) * 2) + mp4[moov_start + 4 :],
        # A moov whose size is below a box header's.
        "/moov-size-3.mp4": mp4[:moov_start] + struct.pack(">I", 3) + mp4[moov_start + 4 :],
        # A ftyp, then noise.
        "/noise.mp4": mp4[:ftyp_size] + bytes(range(256)) * 40,
        # A moov whose tkhd and mvhd are zeroed.
        "/zeroed.mp4": mp4[:moov_start]
        + mp4[moov_start : moov_start + 8]
        + bytes(moov_size - 8)
        + mp4[moov_start + moov_size :],
    }
    with serve(files(bodies, "video/mp4")) as server:
        outputs = [an_output(server.url + path) for path in bodies]
        stored = store_images(outputs, tmp_path.as_uri(), writer="damaged")

    described = {
        s.row.source_url.rpartition("/")[2]: (
            s.row.kind,
            s.row.file_name.rpartition(".")[2],
            s.row.width,
            s.row.height,
            s.row.duration,
        )
        for s in stored
    }
    unknown = ("video", "mp4", 0, 0, 0.0)
    assert described == {
        "cut-in-moov.mp4": unknown,
        "cut-in-mdat.mp4": ("video", "mp4", 320, 240, 1.0),
        "moov-too-long.mp4": unknown,
        "moov-size-3.mp4": unknown,
        "noise.mp4": unknown,
        "zeroed.mp4": unknown,
    }
    assert (ftyp, moov) == (b"ftyp", b"moov")
    assert all(s.row.bytes == len(bodies["/" + s.row.source_url.rpartition("/")[2]]) for s in stored)


def test_a_moov_after_a_large_mdat_is_read_through_bounded_memory(tmp_path):
    import requests.adapters  # noqa: F401 - loaded before measuring: its import is not the copy

    mp4 = moov_last(render_video(VideoRecipe(640, 360, 2.0, "koi", "koi")))
    (_, _, ftyp_size), (_, mdat_start, mdat_size), (_, moov_start, _) = top_level_boxes(mp4)
    block, blocks = bytes(1 << 20), 32
    # The same file with 32 MiB more media data: a 64-bit mdat size (size 1, then the large size).
    mdat_payload = mp4[mdat_start + 8 : mdat_start + mdat_size]
    large_size = 16 + len(mdat_payload) + blocks * len(block)
    head = mp4[:ftyp_size] + struct.pack(">I4sQ", 1, b"mdat", large_size) + mdat_payload
    with serve(huge(head, block, blocks, tail=mp4[moov_start:])) as server:
        tracemalloc.start()
        try:
            [stored] = store_images([an_output(f"{server.url}/big-1.mp4")], tmp_path.as_uri())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (stored.row.width, stored.row.height, stored.row.duration) == (640, 360, 2.0)
    assert stored.row.bytes == len(head) + blocks * len(block) + len(mp4) - moov_start
    # 32 MiB went through; what was held at once is a few chunks and the moov, not the video.
    assert peak < 4 * cdn_client.CHUNK_BYTES + len(mp4) - moov_start + 64 * 1024, peak


def test_a_moov_over_its_cap_is_not_held_and_the_video_is_stored_with_zeros(monkeypatch, tmp_path):
    mp4 = render_video(VideoRecipe(320, 240, 1.0, "koi", "koi"))
    monkeypatch.setattr(iso_media, "MAX_MOOV_BYTES", 100)
    with serve(files({"/v.mp4": mp4}, "video/mp4")) as server:
        [stored] = store_images([an_output(server.url + "/v.mp4")], tmp_path.as_uri())
    assert (stored.row.kind, stored.row.width, stored.row.height, stored.row.duration) == ("video", 0, 0, 0.0)


def test_each_kind_has_its_own_cap(monkeypatch, make_jobs, images_of, tmp_path):
    monkeypatch.setattr(cdn_client, "backoff", lambda attempt: 0.0)
    jobs = make_jobs(VIDEO_TALL, IMAGEN_JPG)
    video, image = images_of(jobs)
    video_bytes = len(requests.get(video.url, timeout=30).content)

    # A video over the video cap is refused for good, and leaves nothing, even under the image cap.
    with pytest.raises(ApiframeResponseTooLargeError, match=f"more than {video_bytes - 1:,} bytes"):
        store_images([video], tmp_path.as_uri(), max_media_bytes=video_bytes - 1, writer="caps")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    # An image over the image cap likewise, though far under the video cap.
    with pytest.raises(ApiframeResponseTooLargeError, match="more than 1,000 bytes"):
        store_images([image], tmp_path.as_uri(), max_bytes=1000, writer="caps")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    # A video far over the image cap is kept under the video cap.
    [stored] = store_images([video], tmp_path.as_uri(), max_bytes=1000, writer="caps")
    assert stored.row.bytes == video_bytes
    assert (
        image_store.MAX_MEDIA_BYTES == 500 * 1024 * 1024 and image_store.MAX_IMAGE_BYTES == 100 * 1024 * 1024
    )


def test_each_kind_has_its_own_deadline(monkeypatch, tmp_path):
    monkeypatch.setattr(cdn_client, "DOWNLOAD_TRIES", 1)
    # An image's time is up before its first byte; a video's is not.
    monkeypatch.setattr(cdn_client, "DOWNLOAD_DEADLINE", {"image": -1.0, "video": 600.0, "audio": 600.0})
    mp4 = render_video(VideoRecipe(64, 64, 1.0, "koi", "koi"))
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, format="PNG")
    with serve(files({"/v-1.mp4": mp4, "/p-1.png": png.getvalue()})) as server:
        [video] = store_images([an_output(server.url + "/v-1.mp4")], tmp_path.as_uri())
        with pytest.raises(ApiframeTransientError, match="the image was still arriving at its deadline"):
            store_images([an_output(server.url + "/p-1.png")], tmp_path.as_uri())
    assert video.row.kind == "video"
    assert sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file()) == [".jsonl", ".mp4"]


def strip_new_columns(manifest: Path) -> list[dict]:
    """Rewrite a manifest as the provider wrote it before videos: without kind, content_type, duration."""
    old = [{k: v for k, v in row.items() if k not in ADDED_COLUMNS} for row in manifest_rows(manifest)]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in old), encoding="utf-8")
    return old


def test_a_part_written_before_videos_is_read_and_rewritten_with_every_column(
    emulator, make_jobs, images_of, tmp_path, monkeypatch
):
    jobs = make_jobs(IMAGEN_PNG, IMAGEN_JPG)
    first = store_images(images_of(jobs), tmp_path.as_uri(), writer="koi")
    manifest = Path(first[0].manifest.removeprefix("file://"))
    old = strip_new_columns(manifest)
    emulator.add_faults({"action": "status", "path": "/cdn/", "status": 410, "times": 100})

    def unrecorded(*args):
        raise AssertionError(f"{args} was hashed again: its old row was not read")

    monkeypatch.setattr(image_store, "read_file", unrecorded)

    # The next store into that part (a retry, say) trusts the old rows and writes every column.
    again = store_images(images_of(jobs), tmp_path.as_uri(), writer="koi")

    assert not any(s.copied for s in again) and [s.row for s in again] == [s.row for s in first]
    rows = manifest_rows(manifest)
    assert [{k: v for k, v in row.items() if k not in ADDED_COLUMNS} for row in rows] == old
    assert [(row["kind"], row["content_type"], row["duration"]) for row in rows] == [
        ("image", "image/png", 0.0),
        ("image", "image/jpeg", 0.0),
    ]


def test_upgrade_manifests_rewrites_only_the_parts_that_lack_a_column(make_jobs, images_of, tmp_path):
    jobs = make_jobs(IMAGEN_PNG, IMAGEN_JPG, SONG)
    images = images_of(jobs)
    older = store_images(images[:2], tmp_path.as_uri(), writer="before videos")
    newer = store_images(images[2:], tmp_path.as_uri(), writer="after")
    old_manifest = Path(older[0].manifest.removeprefix("file://"))
    strip_new_columns(old_manifest)
    new_manifest = Path(newer[0].manifest.removeprefix("file://"))
    untouched = new_manifest.stat().st_mtime_ns, new_manifest.stat().st_ino

    assert upgrade_manifests(tmp_path.as_uri()) == [older[0].manifest]

    assert manifest_rows(old_manifest) == [json.loads(s.row.to_line()) for s in older]
    assert (new_manifest.stat().st_mtime_ns, new_manifest.stat().st_ino) == untouched
    assert upgrade_manifests(tmp_path.as_uri()) == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        # Some of the new columns but not all: no line the provider ever wrote.
        ({"kind": "video"}, "content_type"),
        ({"kind": "video", "content_type": "video/mp4", "duration": "long"}, "duration"),
        ({"kind": 1, "content_type": "video/mp4", "duration": 1.5}, "kind"),
    ],
)
def test_a_line_with_new_columns_of_the_wrong_shape_is_refused(line, problem):
    from airflow_provider_apiframe.storage.manifest import ManifestRow

    base = {
        "file_name": "a-1.mp4",
        "id": "",
        "job_id": str(uuid.uuid4()),
        "prompt": "",
        "model": "",
        "options": "{}",
        "source_url": "https://cdn.example/a-1.mp4",
        "sha256": "0" * 64,
        "width": 0,
        "height": 0,
        "bytes": 1,
        "credits": 0,
        "created_at": "",
    }
    with pytest.raises(ValueError, match=problem):
        ManifestRow.from_line(json.dumps({**base, **line}))
    # A whole-number duration (a hand edit) is read as the float it stands for.
    row = ManifestRow.from_line(
        json.dumps({**base, "kind": "video", "content_type": "video/mp4", "duration": 5})
    )
    assert row.duration == 5.0 and json.loads(row.to_line())["duration"] == 5.0
