"""What a file is, read from its bytes as they stream: MP4/MOV boxes (written here and by the emulator, then
cut, garbled and made hostile), WAV headers (written by ``wave``), and the types kept."""

from __future__ import annotations

import io
import random
import struct
import time
import wave

import pytest

from airflow_provider_apiframe.emulator.audio import render_sound
from airflow_provider_apiframe.emulator.mp4 import box, full_box
from airflow_provider_apiframe.emulator.recipes import SoundRecipe, VideoRecipe
from airflow_provider_apiframe.emulator.video import render_video
from airflow_provider_apiframe.storage import iso_media
from airflow_provider_apiframe.storage.media_probe import HEADER_LIMIT, MediaInfo, MediaProbe
from airflow_provider_apiframe.storage.media_type import EXTENSIONS, MediaType, extension, sniff
from airflow_provider_apiframe.storage.wav_header import read_wav_layout

MP4 = render_video(VideoRecipe(320, 180, 1.5, "koi", "koi"))
UNKNOWN_VIDEO = MediaInfo("video", "video/mp4", "mp4")


def probe(data: bytes, step: int = 4096) -> MediaInfo | None:
    found = MediaProbe()
    for at in range(0, len(data), step):
        found.feed(data[at : at + step])
    return found.result()


def ftyp(brand: bytes = b"isom") -> bytes:
    return box(b"ftyp", brand, struct.pack(">I", 0), brand)


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    times = (
        struct.pack(">IIII", 0, 0, timescale, duration)
        if version == 0
        else struct.pack(">QQIQ", 0, 0, timescale, duration)
    )
    return full_box(b"mvhd", version, 0, times, bytes(80))


def tkhd(width: int, height: int, version: int = 0) -> bytes:
    # version 0: times, track id, reserved, duration (4 bytes each); version 1 widens the times and duration.
    head = bytes(20) if version == 0 else bytes(32)
    return full_box(
        b"tkhd", version, 3, head, bytes(8 + 8 + 36), struct.pack(">II", width << 16, height << 16)
    )


def trak(handler: bytes, width: int = 0, height: int = 0, version: int = 0) -> bytes:
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), handler, bytes(12), b"Handler\0")
    return box(b"trak", tkhd(width, height, version), box(b"mdia", hdlr))


def test_the_emulators_video_is_read_however_its_bytes_are_cut_into_chunks():
    expected = MediaInfo("video", "video/mp4", "mp4", 320, 180, 1.5)
    for step in (1, 7, 100, 4096, len(MP4)):
        assert probe(MP4, step) == expected


@pytest.mark.parametrize("version", [0, 1])
def test_version_1_boxes_and_64_bit_sizes_are_read(version):
    moov = box(b"moov", mvhd(90000, 90000 * 12, version), trak(b"soun"), trak(b"vide", 1920, 1080, version))
    # A 64-bit size on the mdat and on the moov, as muxers write them past 4 GiB.
    mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + 5) + b"frame"
    large_moov = struct.pack(">I4sQ", 1, b"moov", 16 + len(moov) - 8) + moov[8:]
    assert probe(ftyp() + mdat + large_moov, 3) == MediaInfo("video", "video/mp4", "mp4", 1920, 1080, 12.0)


def test_a_quicktime_movie_is_a_mov_and_sound_alone_an_m4a():
    moov = box(b"moov", mvhd(600, 600 * 3), trak(b"vide", 640, 480))
    assert probe(ftyp(b"qt  ") + moov) == MediaInfo("video", "video/quicktime", "mov", 640, 480, 3.0)
    sound = box(b"moov", mvhd(44100, 44100 * 7), trak(b"soun"))
    assert probe(ftyp(b"M4A ") + sound) == MediaInfo("audio", "audio/mp4", "m4a", 0, 0, 7.0)
    # Under a generic brand too: a file with sound and no picture is audio, named so.
    assert probe(ftyp(b"mp42") + sound) == MediaInfo("audio", "audio/mp4", "m4a", 0, 0, 7.0)


def test_a_fragmented_movie_takes_its_length_from_mehd():
    mvex = box(b"mvex", full_box(b"mehd", 0, 0, struct.pack(">I", 2500)))
    moov = box(b"moov", mvhd(1000, 0), mvex, trak(b"vide", 720, 1280))
    assert probe(ftyp() + moov) == MediaInfo("video", "video/mp4", "mp4", 720, 1280, 2.5)


def test_an_unknown_duration_is_zero():
    moov = box(b"moov", mvhd(1000, 0xFFFFFFFF), trak(b"vide", 64, 64))
    assert probe(ftyp() + moov) == MediaInfo("video", "video/mp4", "mp4", 64, 64, 0.0)
    assert probe(ftyp() + box(b"moov", mvhd(0, 5000), trak(b"vide", 64, 64))).duration == 0.0


def test_a_movie_without_moov_or_with_a_moov_over_its_cap_is_a_video_of_unknown_size(monkeypatch):
    assert probe(ftyp() + box(b"mdat", bytes(1000))) == UNKNOWN_VIDEO
    # A moov "to the end of the file" (size 0) is not held: it could be anything up to the whole file.
    moov = box(b"moov", mvhd(1000, 1000), trak(b"vide", 64, 64))
    assert probe(ftyp() + bytes(4) + moov[4:]) == UNKNOWN_VIDEO
    monkeypatch.setattr(iso_media, "MAX_MOOV_BYTES", len(moov) - 9)
    assert probe(ftyp() + moov) == UNKNOWN_VIDEO


def test_the_walk_gives_up_on_a_file_of_countless_boxes():
    moov = box(b"moov", mvhd(1000, 1000), trak(b"vide", 64, 64))
    few = ftyp() + box(b"free") * (iso_media.MAX_TOP_LEVEL_BOXES - 2) + moov
    assert probe(few).width == 64
    many = ftyp() + box(b"free") * 200_000 + moov
    started = time.monotonic()
    assert probe(many, 65536) == UNKNOWN_VIDEO
    assert time.monotonic() - started < 2
    # Inside the moov too: more empty boxes before the tracks than are looked at end the walk.
    crowded = box(
        b"moov", box(b"free") * (iso_media.MAX_CHILDREN + 10), mvhd(1000, 1000), trak(b"vide", 64, 64)
    )
    assert probe(ftyp() + crowded) == UNKNOWN_VIDEO


def test_cut_and_garbled_movies_never_fail_and_say_what_they_can():
    # Every cut of the moov's region, and then random damage: a video each time, with ints and a float.
    moov_end = MP4.index(b"mdat") - 4
    rng = random.Random(7)
    variants = [MP4[:cut] for cut in range(0, moov_end + 16)]
    for _ in range(300):
        damaged = bytearray(MP4[: moov_end + 64])
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(damaged))
            damaged[at : at + 4] = rng.choice(
                [b"\0\0\0\0", b"\xff\xff\xff\xff", b"\0\0\0\1", rng.randbytes(4)]
            )
        variants.append(bytes(damaged))
    for data in variants:
        found = probe(data, rng.choice([1, 13, 4096]))
        if found is None:  # the first bytes no longer say MP4
            assert sniff(data[:16]) is None or len(data) == 0
            continue
        assert (
            isinstance(found.width, int)
            and isinstance(found.height, int)
            and isinstance(found.duration, float)
        )
        assert found.width >= 0 and found.height >= 0 and found.duration >= 0.0


def wav_bytes(channels: int, width: int, rate: int, frames: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(bytes(frames * channels * width))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("channels", "width", "rate", "frames"), [(1, 2, 8000, 8000 * 3), (2, 3, 44100, 22050), (2, 1, 22050, 7)]
)
def test_a_wavs_length_is_its_frames_over_its_rate(channels, width, rate, frames):
    found = probe(wav_bytes(channels, width, rate, frames), 1000)
    assert found == MediaInfo("audio", "audio/wav", "wav", 0, 0, frames / rate)


def test_a_wav_with_chunks_before_its_data_or_a_length_it_does_not_declare():
    plain = wav_bytes(1, 2, 16000, 16000)
    fmt_end = plain.index(b"data")
    # A LIST chunk of odd length (padded) between fmt and data.
    tagged = plain[:fmt_end] + b"LIST" + struct.pack("<I", 5) + b"INFOx\0" + plain[fmt_end:]
    assert probe(tagged).duration == 1.0
    # A streamed WAV: the data's length left as all ones, or 0, then the data to the end of the file.
    streamed = plain[: fmt_end + 4] + b"\xff\xff\xff\xff" + plain[fmt_end + 8 :]
    assert probe(streamed).duration == 1.0
    unsized = plain[: fmt_end + 4] + bytes(4) + plain[fmt_end + 8 :]
    assert probe(unsized).duration == 1.0
    # Cut short: what is there.
    assert probe(plain[: fmt_end + 8 + 8000]).duration == 0.25
    # No fmt before the data: unknown.
    assert probe(plain[:12] + plain[fmt_end:]).duration == 0.0
    assert read_wav_layout(b"RIFF\0\0\0\0WAVE") is None


def test_the_emulators_song_is_read():
    assert probe(render_sound(SoundRecipe(2.5, 8000, "koi"))) == MediaInfo(
        "audio", "audio/wav", "wav", 0, 0, 2.5
    )


@pytest.mark.parametrize(
    ("head", "kept"),
    [
        (b"\x1a\x45\xdf\xa3" + bytes(30), MediaInfo("video", "video/webm", "webm")),
        (b"OggS" + bytes(30), MediaInfo("audio", "audio/ogg", "ogg")),
        (b"ID3\x04" + bytes(30), MediaInfo("audio", "audio/mpeg", "mp3")),
        (b"\xff\xfb\x90\x00" + bytes(30), MediaInfo("audio", "audio/mpeg", "mp3")),
        (b"GIF89a" + bytes(30), None),
        (b"<html><body>busy</body></html>", None),
        (b"", None),
        (b"\x89PNG\r\n\x1a\n", None),  # too short to say its size: an image must
    ],
)
def test_other_kept_types_are_known_by_their_first_bytes(head, kept):
    assert probe(head, 5) == kept


def test_an_image_that_never_says_its_size_is_not_kept_and_its_start_is_let_go():
    found = MediaProbe()
    found.feed(b"\x89PNG\r\n\x1a\n" + bytes(100))  # a PNG's signature, and no IHDR after it
    for _ in range(8):
        found.feed(bytes(HEADER_LIMIT // 4))
    assert found.kind == "image" and found.result() is None
    assert len(found._head) == 0  # let go once the header limit passed


def test_every_kept_type_has_an_extension_and_sniffing_is_unchanged():
    assert extension(MediaType("image", "image/gif")) is None
    assert {content_type.split("/")[0] for content_type in EXTENSIONS} == {"image", "video", "audio"}
    assert sniff(MP4[:16]) == MediaType("video", "video/mp4")
