"""
A minimal MP4 (ISO base media file) writer for one Motion-JPEG video track, in pure Python.

The emulator must serve videos that standard tools open without depending on ffmpeg, and JPEG frames are
what Pillow already writes. The layout is the one ffmpeg's own muxer gives ``-c:v mjpeg out.mp4``: an
``ftyp``, the ``moov`` first (so a player can start before the end), then one ``mdat`` holding every
frame as one chunk. The track's sample entry is ``mp4v`` with an ``esds`` whose object type is 0x6C,
"Visual ISO/IEC 10918-1 (JPEG)" in the MP4 registry; every frame is a key frame, so no ``stss``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

# The movie's and the track's clock: milliseconds.
TIMESCALE = 1000
# The identity transform of tkhd/mvhd: 16.16 fixed point, the last column 2.30.
_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
_JPEG_OBJECT_TYPE = 0x6C
# streamType 4 (visual) << 2 | upStream 0 | reserved 1.
_VISUAL_STREAM = 0x11


def box(kind: bytes, *payload: bytes) -> bytes:
    """Return a box: its 32-bit size, its four-character type, then its payload."""
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """Return a full box: a box whose payload starts with a version byte and 24 bits of flags."""
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _descriptor(tag: int, payload: bytes) -> bytes:
    # MPEG-4 descriptors carry their length in 7-bit groups; four bytes, as most muxers write it.
    length = len(payload)
    size = bytes([0x80 | (length >> 21) & 0x7F, 0x80 | (length >> 14) & 0x7F, 0x80 | (length >> 7) & 0x7F])
    return bytes([tag]) + size + bytes([length & 0x7F]) + payload


def _esds(max_frame: int, bitrate: int) -> bytes:
    decoder_config = struct.pack(
        ">BB3sII", _JPEG_OBJECT_TYPE, _VISUAL_STREAM, max_frame.to_bytes(3, "big"), bitrate, bitrate
    )
    es = struct.pack(">HB", 1, 0) + _descriptor(0x04, decoder_config) + _descriptor(0x06, b"\x02")
    return full_box(b"esds", 0, 0, _descriptor(0x03, es))


def _sample_entry(width: int, height: int, esds: bytes) -> bytes:
    compressor = b"Lavc mjpeg"  # a name, Pascal-style in 32 bytes
    return box(
        b"mp4v",
        bytes(6),  # reserved
        struct.pack(">H", 1),  # data_reference_index
        bytes(16),  # pre_defined, reserved
        struct.pack(">HHII", width, height, 0x00480000, 0x00480000),  # 72 dpi both ways
        bytes(4),  # reserved
        struct.pack(">H", 1),  # frame_count
        bytes([len(compressor)]) + compressor.ljust(31, b"\0"),
        struct.pack(">Hh", 0x18, -1),  # depth, pre_defined
        esds,
    )


def _sample_table(width: int, height: int, sizes: Sequence[int], delta: int, data_offset: int) -> bytes:
    bitrate = sum(sizes) * 8 * TIMESCALE // max(1, delta * len(sizes))
    return box(
        b"stbl",
        full_box(
            b"stsd", 0, 0, struct.pack(">I", 1), _sample_entry(width, height, _esds(max(sizes), bitrate))
        ),
        full_box(b"stts", 0, 0, struct.pack(">III", 1, len(sizes), delta)),
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, len(sizes), 1)),
        full_box(
            b"stsz", 0, 0, struct.pack(">II", 0, len(sizes)), *(struct.pack(">I", size) for size in sizes)
        ),
        full_box(b"stco", 0, 0, struct.pack(">II", 1, data_offset)),
    )


def _movie(width: int, height: int, sizes: Sequence[int], delta: int, data_offset: int) -> bytes:
    duration = delta * len(sizes)
    header = full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, TIMESCALE, duration),
        struct.pack(">IH", 0x00010000, 0x0100),  # rate 1.0, volume 1.0
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),  # next_track_ID
    )
    track_header = full_box(
        b"tkhd",
        0,
        3,  # enabled, in the movie
        struct.pack(">IIII", 0, 0, 1, 0),  # times, track_ID 1, reserved
        struct.pack(">I", duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),  # layer, alternate_group, volume (none for video), reserved
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    media = box(
        b"mdia",
        full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, TIMESCALE, duration, 0x55C4, 0)),  # "und"
        full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\0"),
        box(
            b"minf",
            full_box(b"vmhd", 0, 1, bytes(8)),
            box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1))),
            _sample_table(width, height, sizes, delta, data_offset),
        ),
    )
    return box(b"moov", header, box(b"trak", track_header, media))


def mjpeg_mp4(width: int, height: int, frames: Sequence[bytes], frame_seconds: float) -> bytes:
    """Return an MP4 file of one video track whose samples are the JPEG ``frames``, each shown that long."""
    if not frames:
        raise ValueError("an MP4 needs at least one frame")
    delta = max(1, round(frame_seconds * TIMESCALE))
    sizes = [len(frame) for frame in frames]
    file_type = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"mp41")
    # The moov's size does not depend on the offset it records, so measure it once with a stand-in.
    moov_size = len(_movie(width, height, sizes, delta, 0))
    data_offset = len(file_type) + moov_size + 8
    mdat = struct.pack(">I4s", 8 + sum(sizes), b"mdat")
    return b"".join((file_type, _movie(width, height, sizes, delta, data_offset), mdat, *frames))
