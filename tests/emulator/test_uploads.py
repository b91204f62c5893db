"""POST /v2/uploads: types sniffed from the bytes, size caps, the served file and its expiry."""

from __future__ import annotations

import io
import uuid
from datetime import datetime

import pytest
import requests
from PIL import Image

from airflow_provider_apiframe.emulator import uploads
from tests.emulator.conftest import Api
from tests.emulator.media_checks import fetch, open_image, read_mp4, wav_seconds

MEGABYTE = 1024 * 1024


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(
    api: Api, data: bytes, *, field: str = "file", filename: str = "upload.bin", declared: str = "text/plain"
):
    return requests.post(
        f"{api.url}/v2/uploads",
        files={field: (filename, data, declared)},
        headers=api.headers(),
        timeout=60,
    )


def rejected(response, text: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "Validation failed" and list(body["details"]) == ["file"]
    assert any(text in message for message in body["details"]["file"]), body


# Each type by its magic bytes (the rest padding), declared as something else entirely.
SAMPLES = [
    (png(), "image", "image/png", "png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100), "image", "image/jpeg", "jpg"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(100), "image", "image/webp", "webp"),
    (b"GIF89a" + bytes(100), "image", "image/gif", "gif"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(100), "video", "video/mp4", "mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + bytes(100), "video", "video/quicktime", "mov"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + bytes(100), "video", "video/webm", "webm"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(100), "audio", "audio/mpeg", "mp3"),
    (b"\xff\xfb\x90\x64" + bytes(100), "audio", "audio/mpeg", "mp3"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(100), "audio", "audio/wav", "wav"),
    (b"OggS\x00\x02" + bytes(100), "audio", "audio/ogg", "ogg"),
    (b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A isom" + bytes(100), "audio", "audio/mp4", "m4a"),
]


@pytest.mark.parametrize(
    ("data", "kind", "content_type", "extension"), SAMPLES, ids=[s[3] + "-" + s[2] for s in SAMPLES]
)
def test_the_type_is_sniffed_from_the_bytes_and_the_file_served_as_sent(
    api, server, clock, data, kind, content_type, extension
):
    response = upload(api, data, declared="application/x-whatever")
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"id", "url", "kind", "contentType", "byteSize", "expiresAt"}
    assert (answer["kind"], answer["contentType"], answer["byteSize"]) == (kind, content_type, len(data))
    assert str(uuid.UUID(answer["id"])) == answer["id"]
    assert answer["url"] == f"{api.url}/cdn/uploads/{answer['id']}.{extension}"
    assert datetime.fromisoformat(answer["expiresAt"]).timestamp() == pytest.approx(
        clock.now + 3600, abs=0.001
    )
    served = requests.get(answer["url"], timeout=10)  # like the CDN: no key
    assert served.status_code == 200 and served.content == data
    assert served.headers["Content-Type"] == content_type
    assert server.stats()["uploads"] == 1


@pytest.mark.parametrize(
    "data",
    [
        b"plain text, not a media file",
        b"%PDF-1.7\n" + bytes(100),
        b"\x1a\x45\xdf\xa3" + b"matroska" + bytes(100),
    ],
    ids=["text", "pdf", "mkv"],
)
def test_an_unsupported_type_is_400_naming_file(api, server, data):
    rejected(upload(api, data, declared="image/png", filename="koi.png"), "Unsupported file type")
    assert server.stats()["uploads"] == 0


def test_no_file_an_empty_file_and_no_multipart_are_400_naming_file(api, server):
    rejected(upload(api, png(), field="image"), "Required")
    rejected(upload(api, b""), "empty")
    plain = requests.post(
        f"{api.url}/v2/uploads",
        data=png(),
        headers={**api.headers(), "Content-Type": "image/png"},
        timeout=10,
    )
    rejected(plain, "multipart/form-data")
    assert server.stats()["uploads"] == 0


def test_only_the_file_part_counts_among_others(api):
    response = requests.post(
        f"{api.url}/v2/uploads",
        files={"note": ("note.txt", b"hello", "text/plain"), "file": ("koi.png", png(), "image/png")},
        headers=api.headers(),
        timeout=10,
    )
    assert response.status_code == 201 and response.json()["kind"] == "image"


def test_the_image_cap_is_25_mb_and_the_answer_reaches_the_client(api, server):
    assert uploads.CAPS == {"image": 25 * MEGABYTE, "audio": 25 * MEGABYTE, "video": 50 * MEGABYTE}
    head = png()
    at_cap = head + bytes(25 * MEGABYTE - len(head))
    assert upload(api, at_cap).status_code == 201
    rejected(upload(api, at_cap + b"\x00"), "25 MB")
    assert server.stats()["uploads"] == 1


def test_a_video_may_be_larger_than_an_image_but_not_than_its_own_cap(api, server, monkeypatch):
    # The caps scaled down a thousandfold: the same rule, without 50 MB bodies.
    monkeypatch.setitem(uploads.CAPS, "image", 25 * 1024)
    monkeypatch.setitem(uploads.CAPS, "audio", 25 * 1024)
    monkeypatch.setitem(uploads.CAPS, "video", 50 * 1024)
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt "
    assert upload(api, mp4 + bytes(40 * 1024)).status_code == 201
    rejected(upload(api, mp4 + bytes(50 * 1024)), "allowed for video files")
    rejected(upload(api, wav + bytes(30 * 1024)), "allowed for audio files")
    assert server.stats()["uploads"] == 1


def test_an_upload_is_gone_once_it_expires(apiframe_emulator_factory, clock):
    api = Api(apiframe_emulator_factory(clock=clock, upload_ttl=600))
    answer = upload(api, png()).json()
    assert datetime.fromisoformat(answer["expiresAt"]).timestamp() == pytest.approx(
        clock.now + 600, abs=0.001
    )
    clock.now += 599
    assert requests.get(answer["url"], timeout=10).status_code == 200
    clock.now += 1
    gone = requests.get(answer["url"], timeout=10)
    assert gone.status_code == 404 and isinstance(gone.json()["error"], str)
    assert requests.get(answer["url"].replace(answer["id"], str(uuid.uuid4())), timeout=10).status_code == 404


def test_an_uploaded_image_is_an_input_with_its_real_size(apiframe_emulator_factory, clock):
    api = Api(apiframe_emulator_factory(clock=clock, job_duration=1.0))
    url = upload(api, png(300, 200)).json()["url"]
    body = {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": url, "upscale_factor": 4}}
    job_id = api.new_job(body=body, path="/v2/images/upscale")
    cut = api.new_job(
        body={"model": "bria-bg-remove", "briaBgRemoveParams": {"image": url}},
        path="/v2/images/background-remove",
    )
    clock.now += 10
    [upscaled] = api.job(job_id)["result"]["images"]
    assert open_image(fetch(upscaled).content).size == (1200, 800)
    [removed] = api.job(cut)["result"]["images"]
    assert open_image(fetch(removed).content).size == (300, 200)


def test_the_emulators_own_video_and_song_upload_as_video_and_audio(api, clock):
    from airflow_provider_apiframe.emulator.audio import render_sound
    from airflow_provider_apiframe.emulator.recipes import SoundRecipe, VideoRecipe
    from airflow_provider_apiframe.emulator.video import render_video

    clip = render_video(VideoRecipe(320, 240, 1.0, "upload-test", "koi"))
    assert read_mp4(clip).seconds == 1.0
    answer = upload(api, clip).json()
    assert (answer["kind"], answer["contentType"]) == ("video", "video/mp4")
    tune = render_sound(SoundRecipe(2.0, 8000, "upload-test"))
    answer = upload(api, tune).json()
    assert (answer["kind"], answer["contentType"]) == ("audio", "audio/wav")
    assert wav_seconds(fetch(answer["url"]).content)[0] == 2.0


def test_uploads_need_a_key_and_count_against_the_rate_limit(apiframe_emulator_factory):
    api = Api(apiframe_emulator_factory(rate_limit_per_minute=2))
    assert requests.post(f"{api.url}/v2/uploads", files={"file": ("a", png())}, timeout=10).status_code == 401
    assert [upload(api, png()).status_code for _ in range(3)] == [201, 201, 429]
    assert api.server.stats()["uploads"] == 2
