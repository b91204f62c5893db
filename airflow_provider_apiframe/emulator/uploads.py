"""
``POST /v2/uploads``: a file read from a multipart body as it streams in, its type sniffed from its bytes.

The spec's rules: one part ``file``; PNG, JPEG, WebP, GIF, MP4, WebM, MOV, MP3, WAV, OGG or M4A, told by
their magic bytes whatever content type the part declares; at most 25 MB for an image or audio file and
50 MB for a video. The body is read chunk by chunk and never held beyond the cap: past it, the rest is
read and dropped (so that the client gets its 400 rather than a reset connection), never stored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from aiohttp import BodyPartReader, web

from .jobs import iso_utc

Kind = Literal["image", "video", "audio"]
MEGABYTE = 1024 * 1024
CAPS: dict[str, int] = {"image": 25 * MEGABYTE, "audio": 25 * MEGABYTE, "video": 50 * MEGABYTE}
FILE_FIELD = "file"
SUPPORTED = "PNG, JPEG, WebP, GIF, MP4, WebM, MOV, MP3, WAV, OGG or M4A"
# Enough of a file's start for every signature below (WebM names its doctype within its first bytes).
_SNIFF_BYTES = 64
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileType:
    """A type the API takes: its kind, MIME type and file extension."""

    kind: Kind
    content_type: str
    extension: str


PNG = FileType("image", "image/png", "png")
JPEG = FileType("image", "image/jpeg", "jpg")
WEBP = FileType("image", "image/webp", "webp")
GIF = FileType("image", "image/gif", "gif")
MP4 = FileType("video", "video/mp4", "mp4")
WEBM = FileType("video", "video/webm", "webm")
MOV = FileType("video", "video/quicktime", "mov")
MP3 = FileType("audio", "audio/mpeg", "mp3")
WAV = FileType("audio", "audio/wav", "wav")
OGG = FileType("audio", "audio/ogg", "ogg")
M4A = FileType("audio", "audio/mp4", "m4a")
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ")
# QuickTime files without an ftyp start straight with one of these atoms.
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff(head: bytes) -> FileType | None:
    """Tell a file's type from its first bytes; None for a type the API does not take."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM if b"webm" in head[:_SNIFF_BYTES] else None
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_BRANDS:
            return M4A
        return MOV if brand == b"qt  " else MP4
    if head[4:8] in _QUICKTIME_ATOMS:
        return MOV
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return MP3
    return None


def _is_mpeg_audio_frame(head: bytes) -> bool:
    # An MPEG audio frame header: 11 sync bits, then a version and a layer that are not "reserved".
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    return (head[1] >> 3) & 0b11 != 0b01 and (head[1] >> 1) & 0b11 != 0b00


class InvalidUpload(Exception):
    """The 400 answer to an upload: what is wrong with its ``file``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, object]:
        """Return the JSON body of the 400 answer, the validation body naming ``file``."""
        return {"error": "Validation failed", "details": {FILE_FIELD: [self.message]}}


@dataclass(frozen=True)
class Upload:
    """A stored upload: served at its URL until it expires."""

    id: str
    team_id: str
    type: FileType
    data: bytes
    created_at: float
    expires_at: float
    # An image's width and height, so that a job given its URL knows its input's size.
    pixel_size: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        """Return the file's name on the CDN: ``<id>.<extension>``."""
        return f"{self.id}.{self.type.extension}"

    def to_json(self, cdn_root: str) -> dict[str, object]:
        """Return the upload as ``POST /v2/uploads`` answers it."""
        return {
            "id": self.id,
            "url": f"{cdn_root}/uploads/{self.name}",
            "kind": self.type.kind,
            "contentType": self.type.content_type,
            "byteSize": len(self.data),
            "expiresAt": iso_utc(self.expires_at),
        }


@dataclass(frozen=True)
class ReceivedFile:
    """A file read from an upload: its sniffed type and its bytes."""

    type: FileType
    data: bytes


def _cap_text(kind: str) -> str:
    cap = CAPS[kind]
    allowed = f"{cap // MEGABYTE} MB" if cap % MEGABYTE == 0 else f"{cap} bytes"
    return f"File is larger than the {allowed} allowed for {kind} files"


async def _read_file(part: BodyPartReader) -> ReceivedFile:
    head = bytearray()
    while len(head) < _SNIFF_BYTES:
        chunk = await part.read_chunk(_CHUNK)
        if not chunk:
            break
        head += chunk
    file_type = sniff(bytes(head))
    if file_type is None:
        await part.release()
        if not head:
            raise InvalidUpload("File is empty")
        raise InvalidUpload(f"Unsupported file type: expected {SUPPORTED}")
    cap = CAPS[file_type.kind]
    buffer = io.BytesIO()
    buffer.write(head)
    while buffer.tell() <= cap:
        chunk = await part.read_chunk(_CHUNK)
        if not chunk:
            break
        buffer.write(chunk)
    if buffer.tell() > cap:
        buffer.close()
        await part.release()  # reads the rest of the part and drops it
        raise InvalidUpload(_cap_text(file_type.kind))
    return ReceivedFile(file_type, buffer.getvalue())


async def receive_upload(request: web.Request) -> ReceivedFile:
    """Read the ``file`` part of a multipart upload; :class:`InvalidUpload` if it is missing or refused."""
    if request.content_type != "multipart/form-data":
        raise InvalidUpload("Required: send the file as the 'file' part of a multipart/form-data body")
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError) as exc:
        raise InvalidUpload(f"Unreadable multipart body: {exc}") from None
    received: ReceivedFile | None = None
    refused: InvalidUpload | None = None
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or part.name != FILE_FIELD or received or refused:
                await part.release()
                continue
            try:
                received = await _read_file(part)
            except InvalidUpload as invalid:
                refused = invalid  # the rest of the body is still read, so that the answer reaches the client
    except ValueError as exc:
        raise InvalidUpload(f"Unreadable multipart body: {exc}") from None
    if refused is not None:
        raise refused
    if received is None:
        raise InvalidUpload("Required")
    return received
