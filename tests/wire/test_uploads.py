"""POST /v2/uploads: streamed multipart, resent whole after a failure, reused while the upload lives."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

from PIL import Image

from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.storage.inputs import read_input

MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def picture(tmp_path):
    path = tmp_path / "p.png"
    Image.new("RGB", (40, 30), "navy").save(path, "PNG")
    return read_input(str(path), "image", None), path.read_bytes()


def fetched(url):
    with urllib.request.urlopen(url) as answer:
        return answer.read()


def test_an_upload_serves_the_same_bytes_and_is_reused_by_digest(apiframe_conn, tmp_path):
    file, data = picture(tmp_path)
    upload = ApiframeHook().upload(file.to_upload(), file.sha256)
    assert upload.kind == "image" and fetched(upload.url) == data
    again = ApiframeHook().upload(file.to_upload(), file.sha256)
    assert again.url == upload.url and apiframe_conn.stats()["uploads"] == 1
    # Without its digest nothing says the bytes are the same: sent again.
    ApiframeHook().upload(file.to_upload())
    assert apiframe_conn.stats()["uploads"] == 2


def test_an_upload_refused_by_a_503_is_sent_again_from_the_start(apiframe_conn, tmp_path):
    apiframe_conn.add_faults({"method": "POST", "path": "/v2/uploads", "action": "status", "status": 503})
    file, data = picture(tmp_path)
    upload = ApiframeHook().upload(file.to_upload())
    stats = apiframe_conn.stats()
    assert stats["responses_by_status"]["503"] == 1 and stats["uploads"] == 1
    assert fetched(upload.url) == data


CHILD = """
import os, sys, threading, time
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.storage.inputs import read_input

def resident_kb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

hook = ApiframeHook()
hook.settings  # the connection and the session, made before measuring
file = read_input(sys.argv[1], "video", None)
before, peak, done = resident_kb(), [0], threading.Event()

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], resident_kb())
        time.sleep(0.002)

sampler = threading.Thread(target=sample)
sampler.start()
upload = hook.upload(file.to_upload())
done.set()
sampler.join()
print("GROWTH_KB", peak[0] - before, upload.kind)
"""


def test_a_45_mb_video_is_streamed_without_being_held_in_memory(apiframe_conn, tmp_path):
    video = tmp_path / "clip.mp4"
    with video.open("wb") as out:
        out.write(MP4_HEAD)
        block = bytes(range(256)) * 4096
        for _ in range(45 * 1024 * 1024 // len(block)):
            out.write(block)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(video)], capture_output=True, text=True, timeout=300, check=True
    )
    [line] = [line for line in done.stdout.splitlines() if line.startswith("GROWTH_KB")]
    _, growth_kb, kind = line.split()
    assert kind == "video" and int(growth_kb) < 20 * 1024
    assert apiframe_conn.stats()["uploads"] == 1


def test_the_multipart_body_holds_the_file_between_its_boundaries(tmp_path):
    from airflow_provider_apiframe.wire.multipart import MultipartBody
    from airflow_provider_apiframe.wire.uploads import upload_form

    file, data = picture(tmp_path)
    body = MultipartBody(upload_form(file.to_upload()))
    whole = read_in_small_pieces(body)
    assert len(whole) == len(body) and whole.count(data) == 1
    assert whole.startswith(f"--{body.boundary}\r\n".encode())
    assert whole.endswith(f"\r\n--{body.boundary}--\r\n".encode())
    assert b'name="file"' in whole and b"Content-Type: image/png" in whole
    assert whole.index(data) == whole.index(b"\r\n\r\n") + 4


def read_in_small_pieces(body):
    chunks = []
    try:
        while chunk := body.read(7):
            chunks.append(chunk)
    finally:
        body.close()
    return b"".join(chunks)


def test_a_form_of_fields_and_many_files_is_what_a_multipart_parser_reads(tmp_path):
    from email.parser import BytesParser
    from email.policy import HTTP

    from airflow_provider_apiframe.wire.multipart import FormField, FormFile, MultipartBody

    files = []
    for colour in ("red", "green", "blue"):
        path = tmp_path / f"{colour}.png"
        Image.new("RGB", (8, 8), colour).save(path, "PNG")
        files.append((read_input(str(path), "image", None), path.read_bytes()))
    form = [FormField("name", "Koi élan"), *(FormFile("images", f.to_upload()) for f, _ in files)]
    body = MultipartBody(form)
    whole = read_in_small_pieces(body)
    assert len(whole) == len(body)
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {body.content_type}\r\n\r\n".encode() + whole
    )
    parts = list(message.iter_parts())
    assert [part.get_param("name", header="content-disposition") for part in parts] == ["name"] + [
        "images"
    ] * 3
    assert parts[0].get_payload(decode=True).decode() == "Koi élan"
    assert [part.get_payload(decode=True) for part in parts[1:]] == [data for _, data in files]
