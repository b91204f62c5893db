"""
A contact sheet of what a demo run generated: every image, video and song with its model, prompt and options.

The files are matched to their jobs by file name (the CDN names each file after its job), and the jobs
are read from the API's own list (``GET /v2/jobs``), so the sheet shows what was really asked for.
Written as an HTML page (the files linked, not copied: videos and songs play there) and as one PNG for a
quick look (a video as its first frame, a song as a tile with its length).
"""

from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse
from urllib.request import Request, urlopen

from PIL import Image, ImageDraw, ImageFont

from airflow_provider_apiframe.storage.media_probe import MediaProbe

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
    kind: str = "image"
    duration: float = 0.0


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
            for urls in (job.get("result") or {}).values():
                for url in urls if isinstance(urls, list) else []:
                    found[Path(urlparse(url).path).name] = job
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
        info = probe(path)
        if info is not None:
            size = (info.width, info.height)
            made.append(
                Entry(
                    path,
                    job["model"],
                    prompt,
                    options,
                    size,
                    info.extension.upper(),
                    info.kind,
                    info.duration,
                )
            )
    return made


def probe(path: Path) -> Any:
    """What a file is, read as the data set reads it: kind, size, length."""
    media = MediaProbe()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            media.feed(chunk)
    return media.result()


def shortened(value: Any, most: int = 40) -> str:
    """An option's value as a caption shows it: an input's long URL cut to its start and file name."""
    text = str(value)
    return text if len(text) <= most else f"{text[: most // 2]}...{text[-(most // 2) :]}"


def caption(entry: Entry) -> list[str]:
    options = ", ".join(f"{k}={shortened(v)}" for k, v in entry.options.items()) or "default options"
    size = f"{entry.size[0]}x{entry.size[1]}" if entry.size[0] else ""
    length = f"{entry.duration:.1f} s" if entry.duration else ""
    return [
        " ".join(part for part in (entry.model, "", entry.format, size, length) if part),
        entry.prompt,
        options,
    ]


def write_html(output: Path, made: list[Entry]) -> Path:
    cards = []
    for entry in made:
        relative = entry.path.relative_to(output).as_posix()
        lines = "".join(f"<p>{html.escape(line)}</p>" for line in caption(entry))
        source = html.escape(relative)
        shown = {
            "video": f'<video controls loop muted src="{source}"></video>',
            "audio": f'<audio controls src="{source}"></audio>',
        }.get(entry.kind, f'<a href="{source}"><img src="{source}"></a>')
        cards.append(f"<figure>{shown}<figcaption>{lines}</figcaption></figure>")
    page = output / "contact_sheet.html"
    page.write_text(
        "<!doctype html><meta charset=utf-8><title>apiframe demo</title><style>"
        "body{font-family:sans-serif;display:flex;flex-wrap:wrap;gap:16px}"
        f"figure{{width:{THUMB}px;margin:0}}img,video{{max-width:{THUMB}px;max-height:{THUMB}px}}"
        f"audio{{width:{THUMB}px}}"
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


def thumbnail(entry: Entry) -> Image.Image:
    """An image's pixels (transparency over a checkerboard), a video's first frame, or a song's tile."""
    if entry.kind == "image":
        with Image.open(entry.path) as image:
            # Transparent pixels over a checkerboard, as image editors show them, not over black.
            tile = checkerboard(image.size)
            tile.paste(image.convert("RGBA"), mask=image.convert("RGBA"))
            return tile
    frame = first_frame(entry.path) if entry.kind == "video" else None
    if frame is not None:
        return frame
    tile = Image.new("RGB", (THUMB, THUMB), "#22304a" if entry.kind == "video" else "#4a2238")
    font = ImageFont.load_default(size=28)
    label = f"{'video' if entry.kind == 'video' else 'song'} {entry.duration:.1f} s"
    ImageDraw.Draw(tile).text((THUMB // 2, THUMB // 2), label, fill="white", font=font, anchor="mm")
    return tile


def first_frame(path: Path) -> Image.Image | None:
    """A Motion-JPEG video's first frame (the emulator's), found as the first whole JPEG in the file."""
    data = path.read_bytes()
    start = data.find(b"\xff\xd8\xff")
    end = data.find(b"\xff\xd9", start)
    if start < 0 or end < 0:
        return None
    try:
        frame = Image.open(io.BytesIO(data[start : end + 2]))
        frame.load()
    except OSError:
        return None
    return frame.convert("RGB")


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
        thumb = thumbnail(entry)
        thumb.thumbnail((THUMB, THUMB))
        sheet.paste(thumb, (x, y))
        wrapped = [part for line in caption(entry) for part in wrap(line, font, THUMB)]
        for line_number, line in enumerate(wrapped[:CAPTION_LINES]):
            draw.text((x, y + THUMB + 4 + line_number * LINE_HEIGHT), line, fill="black", font=font)
    path = output / "contact_sheet.png"
    sheet.save(path)
    return path
