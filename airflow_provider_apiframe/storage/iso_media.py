"""
The picture size and duration of an MP4, MOV or M4A file (ISO base media / QuickTime), read from its boxes.

A file is a sequence of boxes, each a 32-bit size, a four-character type and a payload (``mjpeg_mp4`` in
the emulator writes one). What is wanted here sits in the ``moov`` box: the movie's duration in its
``mvhd``, and each track's ``trak`` with its ``tkhd`` (the presentation width and height) and the handler
of its ``mdia`` (``vide`` for a video track, ``soun`` for sound). A muxer may put ``moov`` first (for
streaming) or last, after the media data, so ``TopLevelBoxes`` follows the top-level boxes as the bytes
stream past, skipping every other box's payload unread, and keeps only the ``moov``'s bytes; then
``read_movie`` walks them in memory.

The input is untrusted: every size is checked against the bytes that hold it, sizes below a box header
end the walk, the ``moov`` kept and the number of boxes looked at are capped, and only the few containers
on the way to what is read are entered, so the walk is bounded in depth, memory and time. Whatever cannot
be read is unknown (0), never an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# The largest moov kept: its sample tables grow with the number of frames (a few bytes each), so this holds
# hours of video, and bounds what a hostile file can make one download hold in memory.
MAX_MOOV_BYTES = 8 * 1024 * 1024
# Top-level boxes looked at before giving up on finding the moov: real files have a handful, and a file of
# millions of tiny boxes must not cost a loop turn for each.
MAX_TOP_LEVEL_BOXES = 1024
# Boxes looked at inside one container, and tracks read.
MAX_CHILDREN = 1024
MAX_TRACKS = 64
# A box's header: 32-bit size and type, then a 64-bit size where the 32-bit one is 1.
_HEADER = 8
_LARGE_HEADER = 16
# A duration of all ones means "unknown" (ISO/IEC 14496-12, mvhd and mehd).
_UNKNOWN_32 = 0xFFFFFFFF
_UNKNOWN_64 = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class Movie:
    """What a file's ``moov`` says: its first video track's size, its duration, the kinds of its tracks."""

    width: int = 0
    height: int = 0
    # Seconds; 0.0 where the file does not say.
    duration: float = 0.0
    has_video: bool = False
    has_sound: bool = False


class TopLevelBoxes:
    """Follow a file's top-level boxes as its bytes stream past, and keep the ``moov`` box's payload."""

    def __init__(self, max_moov: int | None = None) -> None:
        # Read when made, not when defined: the cap is the module's (``MAX_MOOV_BYTES``) unless given.
        self._max_moov = MAX_MOOV_BYTES if max_moov is None else max_moov
        # Bytes seen so far, and where the next top-level box starts.
        self._offset = 0
        self._next_box = 0
        self._boxes = 0
        # The header of the box starting at _next_box, while it is incomplete.
        self._header = bytearray()
        # The moov's payload while it streams past, and where it ends.
        self._moov: bytearray | None = None
        self._moov_end = 0
        self.moov: bytes | bytearray | None = None
        # True once the moov is whole, or once it cannot be found: later bytes are not looked at.
        self.done = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Take the next bytes of the file."""
        view = memoryview(chunk)
        while view and not self.done:
            if self._moov is not None:
                take = min(len(view), self._moov_end - self._offset)
                self._moov += view[:take]
                view = self._advance(view, take)
                if self._offset == self._moov_end:
                    # Handed over as it is: a copy would double what is held.
                    self.moov, self._moov, self.done = self._moov, None, True
            elif self._offset < self._next_box:
                # Inside a box other than the moov (an mdat of gigabytes, say): skipped, not copied.
                view = self._advance(view, min(len(view), self._next_box - self._offset))
            else:
                view = self._read_header(view)

    def _advance(self, view: memoryview, count: int) -> memoryview:
        self._offset += count
        return view[count:]

    def _read_header(self, view: memoryview) -> memoryview:
        """Gather the header of the box at ``_next_box``; once whole, decide where the next one starts."""
        # Eight bytes, and eight more where the 32-bit size is 1: a 64-bit size follows the type.
        large = len(self._header) >= _HEADER and _big(self._header, 0, 4) == 1
        wanted = _LARGE_HEADER if large else _HEADER
        take = min(len(view), wanted - len(self._header))
        self._header += view[:take]
        view = self._advance(view, take)
        if len(self._header) < _HEADER or (
            _big(self._header, 0, 4) == 1 and len(self._header) < _LARGE_HEADER
        ):
            return view
        size = _big(self._header, 0, 4)
        header_size = _HEADER
        if size == 1:
            size, header_size = _big(self._header, 8, 8), _LARGE_HEADER
        kind = bytes(self._header[4:8])
        start = self._next_box
        self._header = bytearray()
        self._boxes += 1
        if size == 0 or size < header_size or self._boxes > MAX_TOP_LEVEL_BOXES:
            # Size 0 is "to the end of the file": nothing follows it. A size below its own header is no box.
            self.done = True
            return view
        self._next_box = start + size
        if kind == b"moov":
            if size - header_size > self._max_moov:
                self.done = True
            else:
                self._moov, self._moov_end = bytearray(), self._next_box
                if self._offset == self._moov_end:  # an empty moov
                    self.moov, self._moov, self.done = b"", None, True
        return view


def read_movie(moov: bytes | bytearray) -> Movie:
    """Read the duration and the first video track's size from a ``moov`` box's payload."""
    duration = 0.0
    timescale = 0
    fragmented_duration = 0
    width = height = 0
    has_video = has_sound = False
    tracks = 0
    for kind, start, end in _children(moov, 0, len(moov)):
        if kind == b"mvhd":
            timescale, length = _movie_header(moov, start, end)
            duration = length / timescale if timescale else 0.0
        elif kind == b"mvex":
            # A fragmented file's mvhd may say 0; its mehd then gives the whole length.
            fragmented_duration = _fragment_duration(moov, start, end)
        elif kind == b"trak" and tracks < MAX_TRACKS:
            tracks += 1
            handler, size = _track(moov, start, end)
            has_sound = has_sound or handler == b"soun"
            if handler == b"vide" and not has_video:
                has_video = True
                width, height = size
    if duration == 0.0 and fragmented_duration and timescale:
        duration = fragmented_duration / timescale
    return Movie(width, height, duration, has_video, has_sound)


def _children(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield each box between ``start`` and ``end``: its type, where its payload starts, where it ends."""
    at = start
    for _ in range(MAX_CHILDREN):
        if at + _HEADER > end:
            return
        size = _big(data, at, 4)
        header_size = _HEADER
        if size == 1:
            if at + _LARGE_HEADER > end:
                return
            size, header_size = _big(data, at + 8, 8), _LARGE_HEADER
        elif size == 0:
            size = end - at
        if size < header_size or at + size > end:
            return
        yield bytes(data[at + 4 : at + 8]), at + header_size, at + size
        at += size


def _child(data: bytes | bytearray, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _children(data, start, end) if k == kind), None)


def _movie_header(data: bytes | bytearray, start: int, end: int) -> tuple[int, int]:
    """Return an mvhd's timescale and duration; 0s where it is too short or says unknown."""
    version = data[start] if start < end else -1
    if version == 0 and end - start >= 20:
        timescale, length = _big(data, start + 12, 4), _big(data, start + 16, 4)
        return timescale, 0 if length == _UNKNOWN_32 else length
    if version == 1 and end - start >= 32:
        timescale, length = _big(data, start + 20, 4), _big(data, start + 24, 8)
        return timescale, 0 if length == _UNKNOWN_64 else length
    return 0, 0


def _fragment_duration(data: bytes | bytearray, start: int, end: int) -> int:
    found = _child(data, start, end, b"mehd")
    if found is None:
        return 0
    at, stop = found
    version = data[at] if at < stop else -1
    if version == 0 and stop - at >= 8:
        length = _big(data, at + 4, 4)
        return 0 if length == _UNKNOWN_32 else length
    if version == 1 and stop - at >= 12:
        length = _big(data, at + 4, 8)
        return 0 if length == _UNKNOWN_64 else length
    return 0


def _track(data: bytes | bytearray, start: int, end: int) -> tuple[bytes, tuple[int, int]]:
    """Return a trak's handler type (``vide``, ``soun``...; empty if unread) and its tkhd's size."""
    size = (0, 0)
    handler = b""
    for kind, at, stop in _children(data, start, end):
        if kind == b"tkhd":
            size = _track_size(data, at, stop)
        elif kind == b"mdia":
            found = _child(data, at, stop, b"hdlr")
            # hdlr: version and flags, pre_defined, then the handler type.
            if found is not None and found[1] - found[0] >= 12:
                handler = bytes(data[found[0] + 8 : found[0] + 12])
    return handler, size


def _track_size(data: bytes | bytearray, start: int, end: int) -> tuple[int, int]:
    """Return a tkhd's width and height, whole pixels of its 16.16 fixed-point values; 0s if too short."""
    version = data[start] if start < end else -1
    # The size is the tkhd's last 8 bytes: after 76 bytes in version 0, 88 in version 1 (64-bit times).
    at = {0: 76, 1: 88}.get(version)
    if at is None or end - start < at + 8:
        return 0, 0
    return _big(data, start + at, 4) >> 16, _big(data, start + at + 4, 4) >> 16


def _big(data: bytes | bytearray, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "big")
