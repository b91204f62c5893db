"""Real WAV files at the lengths jobs promise: a tune drawn from the job's seed, written with ``wave``."""

from __future__ import annotations

import hashlib
import io
import math
import sys
import wave
from array import array
from functools import lru_cache

from .recipes import SoundRecipe

NOTE_SECONDS = 0.25
# A major pentatonic scale over two octaves from A3, in Hz: any sequence of its notes sounds tuneful.
_SCALE = tuple(220.0 * 2 ** (step / 12) for step in (0, 2, 4, 7, 9, 12, 14, 16, 19, 21))
# Stems: the vocals an octave above the song's tune, the instrumental an octave below.
_PART_SHIFT = {"song": 1.0, "vocals": 2.0, "instrumental": 0.5}
_AMPLITUDE = 9000
_FADE_SECONDS = 0.01


def _note(frequency: float, sample_rate: int) -> bytes:
    # One note as 16-bit little-endian samples, faded in and out so that notes join without clicks.
    length = round(NOTE_SECONDS * sample_rate)
    fade = max(1, round(_FADE_SECONDS * sample_rate))
    step = 2 * math.pi * frequency / sample_rate
    samples = array(
        "h",
        (
            int(_AMPLITUDE * min(1.0, index / fade, (length - index) / fade) * math.sin(step * index))
            for index in range(length)
        ),
    )
    if sys.byteorder == "big":  # WAV samples are little-endian
        samples.byteswap()
    return samples.tobytes()


def _tune(seed: str, count: int) -> list[int]:
    # Note indexes into the scale, drawn from the seed: the same job always plays the same tune.
    notes: list[int] = []
    block = 0
    while len(notes) < count:
        digest = hashlib.sha256(f"{seed}/{block}".encode()).digest()
        notes.extend(byte % len(_SCALE) for byte in digest)
        block += 1
    return notes[:count]


@lru_cache(maxsize=16)
def render_sound(recipe: SoundRecipe) -> bytes:
    """Render audio as its recipe says: a mono 16-bit WAV of a seeded tune, exactly ``seconds`` long."""
    rate = recipe.sample_rate
    total = round(recipe.seconds * rate)
    shift = _PART_SHIFT.get(recipe.part, 1.0)
    notes = {index: _note(frequency * shift, rate) for index, frequency in enumerate(_SCALE)}
    note_length = round(NOTE_SECONDS * rate)
    tune = _tune(recipe.seed, -(-total // note_length))
    pcm = b"".join(notes[index] for index in tune)[: 2 * total]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()
