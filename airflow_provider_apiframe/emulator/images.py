"""Real JPEG/PNG/WEBP files at the sizes jobs promise, showing the prompt so a human can tell them apart."""

from __future__ import annotations

import hashlib
import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_PIL_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


def _colour(seed: str) -> tuple[int, int, int]:
    # Mid-range channels keep both the background and the white text readable.
    digest = hashlib.sha256(seed.encode()).digest()
    red, green, blue = (64 + byte % 128 for byte in digest[:3])
    return red, green, blue


def _wrapped_lines(
    prompt: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int
) -> list[str]:
    # Characters per line from the font's average width, so text fills the image without overflowing.
    char_width = max(1.0, font.getlength("abcdefghijklmnopqrstuvwxyz ") / 27)
    lines = textwrap.wrap(prompt, width=max(1, int(width / char_width))) or [prompt]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][:-1] + "…"]
    return lines


# 2K PNGs take a noticeable fraction of a second; polling clients fetch the same file repeatedly.
@lru_cache(maxsize=32)
def render_image(job_id: str, index: int, prompt: str, width: int, height: int, output_format: str) -> bytes:
    """Render a job's ``index``-th image (from 1): its own colour, a frame, and the prompt across it."""
    image = Image.new("RGB", (width, height), _colour(f"{job_id}/{index}"))
    draw = ImageDraw.Draw(image)
    # Sized by the shorter side too, so that a banner-shaped image still has room for its frame.
    short_side = min(width, height)
    margin = short_side // 16
    draw.rectangle(
        (margin // 2, margin // 2, width - margin // 2, height - margin // 2),
        outline=(255, 255, 255),
        width=max(2, short_side // 256),
    )
    font_size = max(12, min(width // 28, height // 10))
    font = ImageFont.load_default(size=font_size)
    line_height = int(font_size * 1.3)
    max_lines = max(1, (height - 2 * margin) // line_height - 1)
    lines = _wrapped_lines(prompt, font, width - 2 * margin, max_lines)
    draw.multiline_text((margin, margin), "\n".join(lines), fill=(255, 255, 255), font=font, spacing=4)
    caption = f"job {job_id} #{index}"
    draw.text((margin, height - margin - line_height), caption, fill=(230, 230, 230), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format=_PIL_FORMATS[output_format])
    return buffer.getvalue()
