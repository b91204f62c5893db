"""Independent readers of the emulator's media: MP4 boxes, WAV lengths, and ffprobe or ffmpeg if present."""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf"}


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """The boxes between ``start`` and ``end``: (type, payload start, payload end), sizes checked."""
    end = len(data) if end is None else end
    found = []
    offset = start
    while offset < end:
        assert end - offset >= 8, "a truncated box header"
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert size >= 8 and offset + size <= end, (kind, size, offset, end)
        found.append((kind, offset + 8, offset + size))
        offset += size
    return found


def find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> tuple[int, int]:
    """The payload of the box at ``path`` (container types walked down), as (start, end)."""
    for kind, payload_start, payload_end in boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return payload_start, payload_end
            assert kind in CONTAINERS
            return find(data, path[1:], payload_start, payload_end)
    raise AssertionError(f"no {path[0]!r} box")


@dataclass(frozen=True)
class Mp4Track:
    """What an MP4's one video track says about itself."""

    top_level: list[bytes]
    codec: bytes
    width: int
    height: int
    seconds: float
    frames: list[bytes]


def read_mp4(data: bytes) -> Mp4Track:
    """Read an MP4's top-level boxes and its video track: sample entry, size, length and samples."""
    top_level = [kind for kind, _, _ in boxes(data)]
    trak = [b"moov", b"trak"]
    start, _ = find(data, [*trak, b"mdia", b"hdlr"])
    assert data[start + 8 : start + 12] == b"vide"
    start, _ = find(data, [*trak, b"mdia", b"mdhd"])
    timescale, duration = struct.unpack(">II", data[start + 12 : start + 20])
    start, _ = find(data, [*trak, b"tkhd"])
    width, height = (value >> 16 for value in struct.unpack(">II", data[start + 76 : start + 84]))
    stbl = [*trak, b"mdia", b"minf", b"stbl"]
    start, _ = find(data, [*stbl, b"stsd"])
    codec = data[start + 12 : start + 16]
    entry_width, entry_height = struct.unpack(">HH", data[start + 40 : start + 44])
    assert (entry_width, entry_height) == (width, height)
    start, _ = find(data, [*stbl, b"stsz"])
    sample_size, count = struct.unpack(">II", data[start + 4 : start + 12])
    sizes = (
        [sample_size] * count
        if sample_size
        else list(struct.unpack(f">{count}I", data[start + 12 : start + 12 + 4 * count]))
    )
    start, _ = find(data, [*stbl, b"stco"])
    (chunks,) = struct.unpack(">I", data[start + 4 : start + 8])
    assert chunks == 1
    (offset,) = struct.unpack(">I", data[start + 8 : start + 12])
    frames = []
    for size in sizes:
        frames.append(data[offset : offset + size])
        offset += size
    mdat_start, mdat_end = find(data, [b"mdat"])
    assert mdat_start <= offset <= mdat_end
    return Mp4Track(top_level, codec, width, height, duration / timescale, frames)


def wav_seconds(data: bytes) -> tuple[float, int, int]:
    """A WAV's length in seconds, its channels and its sample rate, as the standard library reads them."""
    with wave.open(io.BytesIO(data)) as reader:
        return reader.getnframes() / reader.getframerate(), reader.getnchannels(), reader.getframerate()


def open_image(data: bytes) -> Image.Image:
    """The image, fully loaded."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def fetch(url: str) -> requests.Response:
    """A file from the CDN, which must be there."""
    response = requests.get(url, timeout=60)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return response


def external_video_size(data: bytes) -> tuple[int, int] | None:
    """The video stream's size as ffprobe (else ffmpeg) on PATH reads it; None when neither is there."""
    ffprobe, ffmpeg = shutil.which("ffprobe"), shutil.which("ffmpeg")
    if ffprobe is None and ffmpeg is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "video.mp4"
        path.write_bytes(data)
        if ffprobe is not None:
            result = subprocess.run(
                [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                 "stream=codec_type,width,height", "-of", "json", str(path)],
                capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            [stream] = json.loads(result.stdout)["streams"]
            assert stream["codec_type"] == "video"
            return stream["width"], stream["height"]
        # ffmpeg decodes every frame to nothing: an error in any of them fails the run.
        result = subprocess.run(
            [ffmpeg, "-v", "error", "-i", str(path), "-f", "null", "-"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0 and not result.stderr.strip(), result.stderr
        info = subprocess.run(
            [ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=60
        )
        match = re.search(r"Stream #0:0.*Video: .*?, (\d+)x(\d+)", info.stderr)
        assert match, info.stderr
        return int(match[1]), int(match[2])
