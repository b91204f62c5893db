"""
What a downloaded file is, learnt from its bytes as they stream past: kind, content type, size, duration.

Nothing is read twice and nothing whole is held: the first bytes tell the type (``media_type.sniff``);
an image's pixel size is in its first bytes (``image_header``), a WAV's layout too (``wav_header``), and
an MP4's, MOV's or M4A's ``moov`` is kept as it passes, wherever it is in the file (``iso_media``). So one
download holds one chunk, plus at most ``HEADER_LIMIT`` bytes of its start or ``iso_media.MAX_MOOV_BYTES``
of its ``moov``.

An image is kept only when its size can be read (as before videos and audio were kept: a body that only
starts like a PNG is an error page's prefix or a cut file, worth another try). A video or audio file is
kept whatever its metadata: what cannot be read of a truncated or unusual file is 0, as for WebM, MP3 and
OGG, whose length is not read at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_apiframe.storage.image_header import ImageHeader, read_header
from airflow_provider_apiframe.storage.iso_media import Movie, TopLevelBoxes, read_movie
from airflow_provider_apiframe.storage.media_type import (
    CONTENT_TYPES,
    HEAD_BYTES,
    MediaType,
    extension,
    is_iso_media,
    sniff,
)
from airflow_provider_apiframe.storage.wav_header import WavLayout, read_wav_layout

# The most of a file's start held to read its header: an image's size or a WAV's chunks come well before.
HEADER_LIMIT = 1024 * 1024
# What the kind of a file no data set keeps is, once its first bytes show it.
NOT_KEPT = ""
_M4A = MediaType("audio", "audio/mp4")


@dataclass(frozen=True)
class MediaInfo:
    """What a kept file is: its kind, content type and extension, and its size and length where known."""

    kind: str
    content_type: str
    extension: str
    # Pixels; 0 where unknown, and for audio.
    width: int = 0
    height: int = 0
    # Seconds; 0.0 where unknown, and for images.
    duration: float = 0.0


class MediaProbe:
    """Learn what a file is from its bytes, fed in order as they stream past."""

    def __init__(self) -> None:
        self.size = 0
        self._head = bytearray()
        # Whether the start of the file is still wanted (for a header not yet read).
        self._holding = True
        self._media: MediaType | None = None
        self._decided = False
        self._image: ImageHeader | None = None
        self._wav: WavLayout | None = None
        self._boxes: TopLevelBoxes | None = None

    @property
    def kind(self) -> str | None:
        """Return ``image``, ``video`` or ``audio``; ``NOT_KEPT`` for any other type; None until known."""
        if not self._decided:
            return None
        if self._media is None or extension(self._media) is None:
            return NOT_KEPT
        return self._media.kind

    def feed(self, chunk: bytes) -> None:
        """Take the file's next bytes."""
        before = bytes(self._head) if not self._decided else b""
        self.size += len(chunk)
        if self._holding:
            self._head += chunk[: HEADER_LIMIT - len(self._head)]
        if not self._decided and self.size >= HEAD_BYTES:
            self._decide(before + chunk)
        elif self._boxes is not None:
            self._boxes.feed(chunk)
        if self._decided and self._holding:
            self._read_head()

    def result(self) -> MediaInfo | None:
        """Return what the whole file is, once every byte was fed; None for a file no data set keeps."""
        if not self._decided:
            # A file shorter than the bytes that tell its type.
            self._decide(bytes(self._head))
            self._read_head()
        media = self._media
        ext = extension(media) if media is not None else None
        if media is None or ext is None:
            return None
        if media.kind == "image":
            if self._image is None:
                return None
            header = self._image
            return MediaInfo(
                "image", CONTENT_TYPES[header.format], header.format, header.width, header.height
            )
        if self._boxes is not None:
            return _iso_info(media, ext, self._boxes)
        duration = self._wav.duration(self.size) if self._wav is not None else 0.0
        return MediaInfo(media.kind, media.content_type, ext, duration=duration)

    def _decide(self, seen: bytes) -> None:
        """Tell the type from the first bytes (``seen``: every byte so far)."""
        self._decided = True
        self._media = sniff(seen[:HEAD_BYTES])
        if self._media is not None and is_iso_media(seen[:HEAD_BYTES]):
            self._boxes = TopLevelBoxes()
            self._boxes.feed(seen)

    def _read_head(self) -> None:
        """Read what the file's start holds for its type; let it go once read, or once it cannot be."""
        media = self._media
        if media is not None and media.kind == "image":
            self._image = read_header(self._head)
            found = self._image is not None
        elif media is not None and media.content_type == "audio/wav":
            self._wav = read_wav_layout(self._head)
            found = self._wav is not None
        else:
            found = True
        if found or len(self._head) >= HEADER_LIMIT:
            self._holding = False
            self._head = bytearray()


def _iso_info(media: MediaType, ext: str, boxes: TopLevelBoxes) -> MediaInfo:
    movie = read_movie(boxes.moov) if boxes.moov is not None else Movie()
    if media.content_type == "video/mp4" and movie.has_sound and not movie.has_video:
        # Sound alone under a generic brand (isom, mp42): an M4A in all but its brand.
        media, ext = _M4A, "m4a"
    if media.kind == "audio":
        return MediaInfo(media.kind, media.content_type, ext, duration=movie.duration)
    return MediaInfo(media.kind, media.content_type, ext, movie.width, movie.height, movie.duration)
