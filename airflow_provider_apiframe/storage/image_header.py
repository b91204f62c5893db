"""The format and pixel size of a PNG, JPEG or WEBP image, read from its first bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageHeader:
    """The format and pixel size an image's first bytes declare."""

    # Also the file's extension.
    format: str
    width: int
    height: int


def read_header(data: bytes | bytearray) -> ImageHeader | None:
    """
    Read the format and size of an image from its first bytes.

    None until they are enough, or if they are not a PNG, JPEG or WEBP image.

    Pillow is not a runtime dependency (only the emulator's and the tests'), and the three formats the API
    serves (the catalogue's output formats) keep their size in the first bytes, in a few fixed places: a
    few lines read them, and the tests check them against Pillow.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return ImageHeader("png", _big(data, 16, 4), _big(data, 20, 4))
    if data.startswith(b"\xff\xd8"):
        return _jpeg_header(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_header(data)
    return None


# JPEG's start-of-frame markers, which hold the size: C0 to CF but for DHT (C4), JPG (C8) and DAC (CC).
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length: TEM, RST0-7, SOI, EOI.
_JPEG_BARE = frozenset({0x01, *range(0xD0, 0xDA)})


def _jpeg_header(data: bytes | bytearray) -> ImageHeader | None:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker in _JPEG_BARE:
            at += 2
        elif marker in _JPEG_FRAMES:
            # FF Cn, length, precision, then height and width.
            if at + 9 > len(data):
                return None
            return ImageHeader("jpg", _big(data, at + 7, 2), _big(data, at + 5, 2))
        else:
            at += 2 + _big(data, at + 2, 2)
    return None


def _webp_header(data: bytes | bytearray) -> ImageHeader | None:
    chunk = bytes(data[12:16])
    if chunk == b"VP8X" and len(data) >= 30:
        return ImageHeader("webp", 1 + _little(data, 24, 3), 1 + _little(data, 27, 3))
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return ImageHeader("webp", _little(data, 26, 2) & 0x3FFF, _little(data, 28, 2) & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = _little(data, 21, 4)
        return ImageHeader("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    return None


def _big(data: bytes | bytearray, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "big")


def _little(data: bytes | bytearray, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "little")
