"""
A multipart/form-data body streamed from its files: fields and files, never read whole into memory.

The length is known before the first byte is sent (every file's size is), so the body goes with a
``Content-Length`` rather than chunked; each file is opened when the reading reaches it and closed when it
is read, and each try of a request builds the body afresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

# A file name in a part's header: what the API may show, never a path of this machine.
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


@dataclass(frozen=True)
class FormField:
    """A text field of a form."""

    name: str
    value: str


@dataclass(frozen=True)
class FormFile:
    """A file of a form, under the field ``name`` (repeated for a list of files)."""

    name: str
    file: FileToUpload


FormPart = FormField | FormFile


class MultipartBody:
    """Stream a form's parts as one multipart/form-data body: a file-like object with a length."""

    def __init__(self, parts: Sequence[FormPart]) -> None:
        self.boundary = uuid.uuid4().hex
        self._segments: list[bytes | FileToUpload] = []
        for index, part in enumerate(parts):
            if isinstance(part, FormField):
                head = f'Content-Disposition: form-data; name="{part.name}"\r\n\r\n'
                self._segments.append(f"--{self.boundary}\r\n{head}".encode() + part.value.encode() + b"\r\n")
            else:
                head = (
                    f'Content-Disposition: form-data; name="{part.name}"; filename="{SAFE_NAME}-{index}"\r\n'
                    f"Content-Type: {part.file.content_type}\r\n\r\n"
                )
                self._segments += [f"--{self.boundary}\r\n{head}".encode(), part.file, b"\r\n"]
        self._segments.append(f"--{self.boundary}--\r\n".encode())
        self._length = sum(len(s) if isinstance(s, bytes) else s.size for s in self._segments)
        self._open: IO[bytes] | None = None

    @property
    def content_type(self) -> str:
        """The body's Content-Type header, with its boundary."""
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        """Return the body's next bytes, at most ``size`` (all that is left for -1)."""
        out = bytearray()
        while self._segments and (size < 0 or len(out) < size):
            want = -1 if size < 0 else size - len(out)
            segment = self._segments[0]
            if isinstance(segment, bytes):
                chunk = segment if want < 0 else segment[:want]
                if len(chunk) < len(segment):
                    self._segments[0] = segment[len(chunk) :]
                else:
                    self._segments.pop(0)
            else:
                if self._open is None:
                    self._open = segment.open()
                chunk = self._open.read(want)
                if not chunk or want < 0:
                    self._open.close()
                    self._open = None
                    self._segments.pop(0)
            out += chunk
        return bytes(out)

    def close(self) -> None:
        """Close the file being read, if any."""
        if self._open is not None:
            self._open.close()
            self._open = None
