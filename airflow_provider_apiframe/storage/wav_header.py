"""
The layout of a WAV file, read from its first bytes: where its sound is and how many bytes a second takes.

A WAV file is a RIFF ``WAVE`` file: chunks of a four-character id, a 32-bit little-endian size and a
payload padded to an even length. The ``fmt `` chunk says the byte rate, the ``data`` chunk holds the
sound; other chunks (``LIST`` tags, ``fact``...) may come between. Both headers are in the first bytes of
any WAV a muxer writes, so the duration is the data's length over the byte rate, known once the file's
size is.
"""

from __future__ import annotations

from dataclasses import dataclass

# Chunks looked at before giving up on the data chunk.
MAX_CHUNKS = 64
# What a writer that streams (and so cannot know the length) puts in the data chunk's size.
_UNKNOWN_SIZE = 0xFFFFFFFF


@dataclass(frozen=True)
class WavLayout:
    """Where a WAV file's sound is and how fast it plays."""

    byte_rate: int
    # Where the data chunk's payload starts, and the length its header declares.
    data_start: int
    data_size: int

    def duration(self, file_size: int) -> float:
        """Return the seconds of sound in a file of ``file_size`` bytes: what its data chunk holds."""
        present = max(0, file_size - self.data_start)
        # A streamed WAV declares 0 or all ones; a cut one declares more than is there.
        size = present if self.data_size in (0, _UNKNOWN_SIZE) else min(self.data_size, present)
        return size / self.byte_rate if self.byte_rate > 0 else 0.0


def read_wav_layout(head: bytes | bytearray) -> WavLayout | None:
    """Read a WAV file's layout from its first bytes; None until they hold both headers, or if not a WAV."""
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at = 12
    byte_rate = 0
    for _ in range(MAX_CHUNKS):
        if at + 8 > len(head):
            return None
        chunk, size = bytes(head[at : at + 4]), _little(head, at + 4, 4)
        body = at + 8
        if chunk == b"fmt ":
            # format, channels, sample rate, byte rate, block align, bits per sample.
            if size < 16 or body + 16 > len(head):
                return None
            sample_rate, byte_rate, block_align = (
                _little(head, body + 4, 4),
                _little(head, body + 8, 4),
                _little(head, body + 12, 2),
            )
            # A writer that left the byte rate out: what the sample rate and frame size make.
            byte_rate = byte_rate or sample_rate * block_align
        elif chunk == b"data":
            return WavLayout(byte_rate, body, size) if byte_rate else None
        at = body + size + (size & 1)
    return None


def _little(data: bytes | bytearray, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "little")
