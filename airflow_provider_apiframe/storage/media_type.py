"""What kind of media a file holds, read from its first bytes: never from its name or a declared type."""

from __future__ import annotations

from dataclasses import dataclass

# Enough of a file's start to tell every type the API takes.
HEAD_BYTES = 16


@dataclass(frozen=True)
class MediaType:
    """A file's kind (image, video or audio) and content type, as its bytes show them."""

    kind: str
    content_type: str


_MAGIC: tuple[tuple[bytes, MediaType], ...] = (
    (b"\x89PNG\r\n\x1a\n", MediaType("image", "image/png")),
    (b"\xff\xd8\xff", MediaType("image", "image/jpeg")),
    (b"GIF87a", MediaType("image", "image/gif")),
    (b"GIF89a", MediaType("image", "image/gif")),
    (b"\x1a\x45\xdf\xa3", MediaType("video", "video/webm")),
    (b"OggS", MediaType("audio", "audio/ogg")),
    (b"ID3", MediaType("audio", "audio/mpeg")),
)
# MPEG audio frames without an ID3 tag start with a sync word: eleven set bits.
_MP3_SYNC = (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
_RIFF = {b"WEBP": MediaType("image", "image/webp"), b"WAVE": MediaType("audio", "audio/wav")}
# ISO base media files (MP4, MOV, M4A) name their brand after "ftyp".
_BRANDS = {b"M4A ": MediaType("audio", "audio/mp4"), b"qt  ": MediaType("video", "video/quicktime")}
_MP4 = MediaType("video", "video/mp4")


def sniff(head: bytes) -> MediaType | None:
    """Tell a file's type from its first ``HEAD_BYTES`` bytes; None for any type the API does not take."""
    for magic, media in _MAGIC:
        if head.startswith(magic):
            return media
    if head[:2] in _MP3_SYNC:
        return MediaType("audio", "audio/mpeg")
    if head[:4] == b"RIFF":
        return _RIFF.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _BRANDS.get(head[8:12], _MP4)
    return None


# The extension a kept file is named with, by its content type: the types a data set holds. GIF is an input
# type only (no operation outputs one), so it has none and is not kept.
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
}
# What a file's extension says about its content, for rows written before the manifest recorded it.
CONTENT_TYPES = {extension: content_type for content_type, extension in EXTENSIONS.items()}


def extension(media: MediaType) -> str | None:
    """Return the extension a file of this type is kept under; None for a type a data set does not keep."""
    return EXTENSIONS.get(media.content_type)


def is_iso_media(head: bytes) -> bool:
    """Tell whether a file's first bytes open an ISO base media file (MP4, MOV, M4A): a ``ftyp`` box."""
    return head[4:8] == b"ftyp"
