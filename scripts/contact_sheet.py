"""
A contact sheet of what a demo run generated: every image with its model, prompt and options.

The images are matched to their jobs by file name (the CDN names each file after its job), and the jobs
are read from the API's own list (``GET /v2/jobs``), so the sheet shows what was really asked for.
Written as an HTML page (the images linked, not copied) and as one PNG for a quick look.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse
from urllib.request import Request, urlopen

from PIL import Image, ImageDraw, ImageFont

THUMB = 256
CAPTION_LINES = 5
# Pillow's bundled font below 12 px drops the space after a one-letter word or a quote ("Aceramic").
CAPTION_FONT_SIZE = 12
LINE_HEIGHT = 15
COLUMNS = 4


@dataclass(frozen=True)
class Entry:
    path: Path
    model: str
    prompt: str
    options: dict[str, Any]
    size: tuple[int, int]
    format: str


def jobs_by_image_name(url: str, api_key: str) -> dict[str, dict[str, Any]]:
    """Each generated file's name -> its job, from every page of ``GET /v2/jobs``."""
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        request = Request(f"{url}/v2/jobs?{urlencode(query)}", headers={"X-API-Key": api_key})
        with urlopen(request, timeout=30) as answer:
            page = json.loads(answer.read())
        for job in page["jobs"]:
            for image in (job.get("result") or {}).get("images", []):
                found[Path(urlparse(image).path).name] = job
        if not page.get("hasMore"):
            return found
        cursor = page["nextCursor"]


def entries(output: Path, jobs: dict[str, dict[str, Any]]) -> list[Entry]:
    made = []
    for path in sorted(p for p in output.rglob("*") if p.is_file() and p.name in jobs):
        job = jobs[path.name]
        given = dict(job.get("input") or {})
        options = next((value for key, value in given.items() if key.endswith("Params")), {})
        # An action's job has no prompt: say which action it was, on which of its parent's outputs.
        prompt = given.get("prompt") or " ".join(
            str(given[key]) for key in ("action", "index") if key in given
        )
        with Image.open(path) as image:
            made.append(Entry(path, job["model"], prompt, options, image.size, image.format))
    return made


def caption(entry: Entry) -> list[str]:
    options = ", ".join(f"{k}={v}" for k, v in entry.options.items()) or "default options"
    return [f"{entry.model}  {entry.format} {entry.size[0]}x{entry.size[1]}", entry.prompt, options]


def write_html(output: Path, made: list[Entry]) -> Path:
    cards = []
    for entry in made:
        relative = entry.path.relative_to(output).as_posix()
        lines = "".join(f"<p>{html.escape(line)}</p>" for line in caption(entry))
        cards.append(
            f'<figure><a href="{html.escape(relative)}"><img src="{html.escape(relative)}"></a>'
            f"<figcaption>{lines}</figcaption></figure>"
        )
    page = output / "contact_sheet.html"
    page.write_text(
        "<!doctype html><meta charset=utf-8><title>apiframe demo</title><style>"
        "body{font-family:sans-serif;display:flex;flex-wrap:wrap;gap:16px}"
        f"figure{{width:{THUMB}px;margin:0}}img{{max-width:{THUMB}px;max-height:{THUMB}px}}"
        "p{margin:2px 0;font-size:12px}</style>" + "".join(cards),
        encoding="utf-8",
    )
    return page


def wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """Break ``text`` into lines that fit ``width`` pixels in ``font``; a word too long for one is cut."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
        else:
            while font.getlength(word) > width and len(word) > 1:
                cut = max(1, int(len(word) * width / font.getlength(word)))
                lines.append(word[:cut])
                word = word[cut:]
            lines.append(word)
    return lines


def checkerboard(size: tuple[int, int], square: int = 16) -> Image.Image:
    """Make a light grey checkerboard of ``size``, the backdrop of transparent pixels."""
    board = Image.new("RGB", size, "#ffffff")
    draw = ImageDraw.Draw(board)
    for top in range(0, size[1], square):
        for left in range((top // square) % 2 * square, size[0], 2 * square):
            draw.rectangle((left, top, left + square - 1, top + square - 1), fill="#dddddd")
    return board


def write_png(output: Path, made: list[Entry]) -> Path:
    columns = min(COLUMNS, max(1, len(made)))
    rows = max(1, -(-len(made) // columns))
    cell = (THUMB + 16, THUMB + 16 + CAPTION_LINES * LINE_HEIGHT)
    sheet = Image.new("RGB", (columns * cell[0], rows * cell[1]), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=CAPTION_FONT_SIZE)
    for index, entry in enumerate(made):
        x, y = (index % columns) * cell[0] + 8, (index // columns) * cell[1] + 8
        with Image.open(entry.path) as image:
            # Transparent pixels over a checkerboard, as image editors show them, not over black.
            thumb = checkerboard(image.size)
            thumb.paste(image.convert("RGBA"), mask=image.convert("RGBA"))
            thumb.thumbnail((THUMB, THUMB))
            sheet.paste(thumb, (x, y))
        wrapped = [part for line in caption(entry) for part in wrap(line, font, THUMB)]
        for line_number, line in enumerate(wrapped[:CAPTION_LINES]):
            draw.text((x, y + THUMB + 4 + line_number * LINE_HEIGHT), line, fill="black", font=font)
    path = output / "contact_sheet.png"
    sheet.save(path)
    return path
