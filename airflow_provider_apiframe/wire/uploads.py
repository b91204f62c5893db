"""
``POST /v2/uploads``: a file sent as a streamed form (``multipart.py``), the answer read as untrusted.

A 50 MB video never sits in memory: the body is read from the file a block at a time while it is sent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_apiframe.exceptions import ApiframeUnexpectedResponseError, shown
from airflow_provider_apiframe.wire.jobs import parse_timestamp
from airflow_provider_apiframe.wire.multipart import FileToUpload, FormFile, FormPart

UPLOAD_PATH = "/v2/uploads"


def upload_form(file: FileToUpload) -> tuple[FormPart, ...]:
    """Make the form of an upload: its one part, ``file``."""
    return (FormFile("file", file),)


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
