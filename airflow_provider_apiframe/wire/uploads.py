"""
``POST /v2/uploads``: a file sent as streamed multipart/form-data, and the API's answer read as untrusted.

The body is read from the file a block at a time while it is sent, so a 50 MB video never sits in memory;
its length is known up front, so it goes with a ``Content-Length`` rather than chunked.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from airflow_provider_apiframe.exceptions import ApiframeUnexpectedResponseError, shown
from airflow_provider_apiframe.wire.jobs import parse_timestamp

UPLOAD_PATH = "/v2/uploads"
# A file name in the part's header: what the API may show, never a path of this machine.
SAFE_NAME = "upload"


@dataclass(frozen=True)
class FileToUpload:
    """
    A file to send: its size, its type as its bytes show it, and how to open it (once per try).

    :param size: Its length in bytes.
    :param content_type: Its type, sniffed from its bytes (the API sniffs again and ignores this).
    :param open: Opens it for reading from the start; each try of the request opens it afresh.
    """

    size: int
    content_type: str
    open: Callable[[], IO[bytes]]


class MultipartBody:
    """Stream one file as a multipart/form-data body with a single part, ``file``: read, never loaded."""

    def __init__(self, file: FileToUpload) -> None:
        self.boundary = uuid.uuid4().hex
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{SAFE_NAME}"\r\n'
            f"Content-Type: {file.content_type}\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._size = file.size
        self._file = file.open()
        self._parts: list[bytes | IO[bytes]] = [self._head, self._file, self._tail]

    @property
    def content_type(self) -> str:
        """The body's Content-Type header, with its boundary."""
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    def read(self, size: int = -1) -> bytes:
        """Return the body's next bytes, at most ``size`` (all that is left for -1)."""
        out = bytearray()
        while self._parts and (size < 0 or len(out) < size):
            part = self._parts[0]
            want = -1 if size < 0 else size - len(out)
            if isinstance(part, bytes):
                chunk, rest = (part, b"") if want < 0 else (part[:want], part[want:])
                if rest:
                    self._parts[0] = rest
                else:
                    self._parts.pop(0)
            else:
                chunk = part.read(want if want >= 0 else -1)
                if not chunk or want < 0:
                    self._parts.pop(0)
            out += chunk
        return bytes(out)

    def close(self) -> None:
        """Close the file."""
        self._file.close()


@dataclass(frozen=True)
class Upload:
    """An uploaded file as the API answered: its URL for any input field, and when it expires."""

    id: str
    url: str
    kind: str
    expires_at: float | None


def parse_upload(answer: Any) -> Upload:
    """Read the answer to an upload; an ``ApiframeUnexpectedResponseError`` without an http(s) URL."""
    if not isinstance(answer, dict):
        raise ApiframeUnexpectedResponseError(f"The upload's answer is not a JSON object: {shown(answer)}")
    url = answer.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or len(url) > 4096:
        raise ApiframeUnexpectedResponseError(f"The upload's answer has no http(s) URL: {shown(answer)}")
    upload_id, kind = answer.get("id"), answer.get("kind")
    return Upload(
        id=upload_id if isinstance(upload_id, str) else "",
        url=url,
        kind=kind if isinstance(kind, str) else "",
        expires_at=parse_timestamp(answer.get("expiresAt")),
    )


# An upload lives "1-2 h" (spec): without an expiresAt it is taken to live an hour (*assumed*).
ASSUMED_LIFETIME = 3600.0
# Reused only while it has this long left: a job that waits in the queue still finds its input.
REUSE_MARGIN = 900.0


class UploadCache:
    """Remember each file's upload by its sha256, so the same bytes are sent once while their URL lives."""

    def __init__(self) -> None:
        self._uploads: dict[tuple[str, str], tuple[Upload, float]] = {}
        self._lock = threading.Lock()

    def reusable(self, base_url: str, sha256: str, now: float) -> Upload | None:
        """Return a live upload of these bytes to this API, if there is one with time to spare."""
        with self._lock:
            known = self._uploads.get((base_url, sha256))
        if known is None:
            return None
        upload, uploaded_at = known
        expires_at = upload.expires_at if upload.expires_at is not None else uploaded_at + ASSUMED_LIFETIME
        return upload if expires_at - now > REUSE_MARGIN else None

    def remember(self, base_url: str, sha256: str, upload: Upload, now: float) -> None:
        """Keep an upload for the files with these bytes."""
        with self._lock:
            self._uploads[(base_url, sha256)] = (upload, now)

    def clear(self) -> None:
        """Forget every upload (an API stood up afresh at the same address knows none of them)."""
        with self._lock:
            self._uploads.clear()


UPLOADS = UploadCache()
