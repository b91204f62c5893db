"""Real JPEG/PNG/WEBP files at the sizes jobs promise, showing their text so a human can tell them apart."""

from __future__ import annotations

import hashlib
import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from .recipes import IMAGE_CONTENT_TYPES, PictureRecipe, generated_picture

CONTENT_TYPES = IMAGE_CONTENT_TYPES
_PIL_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
Colour = tuple[int, int, int]


def colour(seed: str) -> Colour:
    """Return the seed's own colour: mid-range channels keep both it and white text readable."""
    digest = hashlib.sha256(seed.encode()).digest()
    red, green, blue = (64 + byte % 128 for byte in digest[:3])
    return red, green, blue


def _wrapped_lines(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int
) -> list[str]:
    # Characters per line from the font's average width, so text fills the image without overflowing.
    char_width = max(1.0, font.getlength("abcdefghijklmnopqrstuvwxyz ") / 27)
    lines = textwrap.wrap(text, width=max(1, int(width / char_width))) or [text]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][:-1] + "…"]
    return lines


def draw_card(image: Image.Image, text: str, caption: str) -> None:
    """Draw a frame, the text across the image and the caption at its foot, all in white."""
    width, height = image.size
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
    lines = _wrapped_lines(text, font, width - 2 * margin, max_lines)
    draw.multiline_text((margin, margin), "\n".join(lines), fill=(255, 255, 255), font=font, spacing=4)
    draw.text((margin, height - margin - line_height), caption, fill=(230, 230, 230), font=font)


def _cutout(recipe: PictureRecipe) -> Image.Image:
    # The "subject" is an ellipse in the seed's colour, with the caption on it; around it the background
    # is transparent, or the backdrop where one is asked for (a JPEG has no transparency).
    size = (recipe.width, recipe.height)
    image = Image.new("RGBA", size, (*recipe.backdrop, 255) if recipe.backdrop else (0, 0, 0, 0))
    subject = Image.new("RGBA", size, (*colour(recipe.seed), 255))
    draw_card(subject, recipe.text, recipe.caption)
    mask = Image.new("L", size, 0)
    inset_x, inset_y = recipe.width // 8, recipe.height // 8
    ImageDraw.Draw(mask).ellipse(
        (inset_x, inset_y, recipe.width - inset_x, recipe.height - inset_y), fill=255
    )
    image.paste(subject, (0, 0), mask)
    return image if recipe.format != "jpg" else image.convert("RGB")


# 2K PNGs take a noticeable fraction of a second; polling clients fetch the same file repeatedly.
@lru_cache(maxsize=32)
def render_picture(recipe: PictureRecipe) -> bytes:
    """Render an image as its recipe says: its own colour, a frame, the text across it and the caption."""
    if recipe.cutout or recipe.backdrop is not None:
        image = _cutout(recipe)
    else:
        image = Image.new("RGB", (recipe.width, recipe.height), colour(recipe.seed))
        draw_card(image, recipe.text, recipe.caption)
    buffer = io.BytesIO()
    image.save(buffer, format=_PIL_FORMATS[recipe.format])
    return buffer.getvalue()


def render_image(job_id: str, index: int, prompt: str, width: int, height: int, output_format: str) -> bytes:
    """Render a generation job's ``index``-th image (from 1): its colour, a frame, the prompt across it."""
    return render_picture(generated_picture(job_id, index, prompt, width, height, output_format))
