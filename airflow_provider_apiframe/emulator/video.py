"""Real MP4 videos at the sizes and lengths jobs promise: Motion-JPEG frames drawn with Pillow."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw

from .images import colour, draw_card
from .mp4 import mjpeg_mp4
from .recipes import VideoRecipe

# Frames per second: enough for a player to show movement, few enough that a 15 s 4K clip stays small.
FRAMES_PER_SECOND = 2
_JPEG_QUALITY = 70


def _frames(recipe: VideoRecipe) -> list[bytes]:
    # Each frame is the same card with a bar that sweeps across its foot and the frame's timestamp.
    count = max(1, round(recipe.seconds * FRAMES_PER_SECOND))
    card = Image.new("RGB", (recipe.width, recipe.height), colour(recipe.seed))
    draw_card(card, recipe.text, f"{recipe.seed} ({recipe.seconds:g} s)")
    bar_height = max(4, recipe.height // 40)
    frames = []
    for index in range(count):
        frame = card.copy()
        left = recipe.width * index // count
        right = max(left + 2, recipe.width * (index + 1) // count)
        ImageDraw.Draw(frame).rectangle(
            (left, recipe.height - bar_height, right, recipe.height - 1), fill=(255, 255, 255)
        )
        buffer = io.BytesIO()
        frame.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
        frames.append(buffer.getvalue())
    return frames


@lru_cache(maxsize=16)
def render_video(recipe: VideoRecipe) -> bytes:
    """Render a video as its recipe says: an MP4 of Motion-JPEG frames, two a second, at its size."""
    frames = _frames(recipe)
    return mjpeg_mp4(recipe.width, recipe.height, frames, recipe.seconds / len(frames))
