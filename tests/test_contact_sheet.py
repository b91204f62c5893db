"""The demo's contact sheet: captions that keep their spaces and fit under each thumbnail."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]


def contact_sheet():
    spec = importlib.util.spec_from_file_location("contact_sheet", ROOT / "scripts" / "contact_sheet.py")
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up while the module is being run.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def blank_columns_between_words(text, font):
    """The widest run of blank pixel columns inside the drawn text: a space should leave one."""
    image = Image.new("L", (400, 30), 255)
    ImageDraw.Draw(image).text((2, 2), text, fill=0, font=font)
    inked = [any(image.getpixel((x, y)) < 128 for y in range(30)) for x in range(400)]
    first, last = inked.index(True), len(inked) - inked[::-1].index(True)
    widest = run = 0
    for ink in inked[first:last]:
        run = 0 if ink else run + 1
        widest = max(widest, run)
    return widest


def test_the_caption_font_keeps_the_space_after_a_one_letter_word_and_a_quote():
    font = ImageFont.load_default(size=contact_sheet().CAPTION_FONT_SIZE)
    assert blank_columns_between_words("A ceramic", font) >= 3
    assert blank_columns_between_words("'OPEN' over", font) >= 3


def test_captions_wrap_to_the_thumbnail_width_and_keep_every_word():
    module = contact_sheet()
    font = ImageFont.load_default(size=module.CAPTION_FONT_SIZE)
    text = "A poster that reads 'OPEN AIR CINEMA' over a summer night sky, " * 3
    lines = module.wrap(text, font, module.THUMB)
    assert len(lines) > 1 and all(font.getlength(line) <= module.THUMB for line in lines)
    assert " ".join(lines).split() == text.split()
