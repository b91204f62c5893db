"""Inputs from anywhere: URLs pass, files are checked from their bytes and size before anything is sent."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from airflow_provider_apiframe.catalogue.model_specs import get_model
from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.storage.inputs import STAND_IN_PREFIX, is_file, read_input, resolve_inputs
from airflow_provider_apiframe.storage.media_type import sniff

FILL = get_model("flux-fill-pro", "/v2/images/edit")
VIDEO_UPSCALE = get_model("topaz-video-upscale", "/v2/videos/upscale")
URL = "https://example.org/p.png"
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def png_bytes(size=(64, 48)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("head", "kind", "content_type"),
    [
        (png_bytes(), "image", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image", "image/webp"),
        (b"GIF89a\x01\x00", "image", "image/gif"),
        (MP4_HEAD, "video", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00", "video", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86", "video", "video/webm"),
        (b"ID3\x04\x00\x00", "audio", "audio/mpeg"),
        (b"\xff\xfb\x90\x64", "audio", "audio/mpeg"),
        (b"RIFF\x24\x08\x00\x00WAVEfmt ", "audio", "audio/wav"),
        (b"OggS\x00\x02", "audio", "audio/ogg"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00", "audio", "audio/mp4"),
    ],
)
def test_a_file_type_is_told_by_its_bytes(head, kind, content_type):
    media = sniff(head[:16])
    assert (media.kind, media.content_type) == (kind, content_type)


@pytest.mark.parametrize("head", [b"hello, world\n", b"%PDF-1.7\n", b"", b"<svg xmlns="])
def test_other_bytes_are_no_type_the_api_takes(head):
    assert sniff(head) is None


def test_urls_pass_and_files_stand_in_by_their_digest(tmp_path):
    picture = tmp_path / "product.png"
    picture.write_bytes(png_bytes())
    resolved = resolve_inputs(FILL, {"image": str(picture), "mask": URL, "prompt": "p"}, None)
    stand_in = resolved.options["image"]
    assert stand_in.startswith(STAND_IN_PREFIX) and resolved.options["mask"] == URL
    [file] = resolved.files.values()
    assert (file.kind, file.content_type, file.size) == ("image", "image/png", picture.stat().st_size)
    # The same bytes under another name stand in the same way: the task's key does not move.
    again = tmp_path / "copy.png"
    again.write_bytes(picture.read_bytes())
    assert resolve_inputs(FILL, {"image": again}, None).options["image"] == stand_in
    assert resolved.with_urls({stand_in: "https://cdn.example/u.png"})["image"] == "https://cdn.example/u.png"


def test_an_upstream_tasks_output_is_its_one_url():
    assert resolve_inputs(FILL, {"image": [URL]}, None).options["image"] == URL


def test_storage_paths_and_uris_are_read_as_files(tmp_path):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.storage.image_store import data_set_path

    picture = tmp_path / "p.png"
    picture.write_bytes(png_bytes())
    by_uri = read_input(f"file://{picture}", "image", None)
    folder = f"memory://inputs-{uuid.uuid4().hex}"
    root = data_set_path(folder)
    # Built from its URL: Airflow 2's ObjectStoragePath joins paths through os.fspath, which UPath deprecates.
    in_memory = ObjectStoragePath(f"{folder}/p.png")
    try:
        in_memory.write_bytes(picture.read_bytes())
        by_path = read_input(in_memory, "image", None)
        assert by_path.sha256 == by_uri.sha256 and by_path.size == by_uri.size
    finally:
        root.rmdir(recursive=True)


def test_bad_files_are_refused_naming_the_input_before_any_request(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    video = tmp_path / "clip.mp4"
    video.write_bytes(MP4_HEAD)
    with pytest.raises(ApiframeValidationError) as info:
        resolve_inputs(FILL, {"image": str(text), "mask": str(video), "prompt": "p"}, None)
    details = info.value.details
    assert "is not a file the API takes" in details["fluxFillParams.image"][0]
    assert "is a video (video/mp4), but this input takes an image" in details["fluxFillParams.mask"][0]
    missing = tmp_path / "missing.png"
    with pytest.raises(ApiframeValidationError, match="does not exist"):
        read_input(str(missing), "image", None)


def test_a_video_over_the_cap_is_refused_without_being_read(tmp_path):
    big = tmp_path / "big.mp4"
    with big.open("wb") as out:
        out.write(MP4_HEAD)
        out.truncate(60_000_000)  # sparse: nothing is written, nothing would be read
    with pytest.raises(ApiframeValidationError) as info:
        resolve_inputs(
            VIDEO_UPSCALE, {"video": str(big), "target_resolution": "1080p", "target_fps": 30}, None
        )
    [message] = info.value.details["topazVideoParams.video"]
    assert "60.0 MB" in message and "at most 50 MB for a video" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (URL, False),
        ("http://h/x.mp4", False),
        ("s3://bucket/x.png", True),
        ("x.png", True),
        ("/a/b.png", True),
    ],
)
def test_what_counts_as_a_file(value, expected):
    assert is_file(value) is expected
