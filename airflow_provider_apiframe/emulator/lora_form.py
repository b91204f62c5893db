"""
``POST /v2/loras``: the multipart form of a LoRA training, read as it streams in and checked field by field.

The spec's rules (its multipart schema): ``images``, 15 to 30 files, JPEG, PNG or WebP told by their
magic bytes whatever their declared type, at most 10 MB each and 100 MB in all; ``name`` 1-60
characters; ``subjectKind`` ``person`` (the default), ``style`` or ``object``; ``gender`` (``female``,
``male``, ``non-binary``) and ``ethnicity`` (1-40), both required for a person; ``age`` 1-40;
``steps`` 500-3000 and ``loraRank`` 8-64, integers sent as text; ``webhookUrl``; ``webhookEvents``
comma-separated. Every broken rule is reported, by field, in the validation body.

Reading is bounded: no image is kept (a training needs only their count and types here), a text field is
kept up to :data:`TEXT_CAP` bytes, and the body is never read past what the form allows. A body that
declares more than that is refused before any of it is read; one that streams more is refused once its
images pass 100 MB (aiohttp drains the rest unread, so the client still gets its 400).

Where the spec is silent the emulator chooses: parts of other names are ignored (the multipart schema does
not close its object, as the JSON bodies' schemas do), the first of two parts of one text field counts,
and a training that does not say gets :data:`DEFAULT_STEPS` steps and rank :data:`DEFAULT_LORA_RANK`
(the ``Lora`` schema requires both, the spec gives no default).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from . import zod
from .uploads import JPEG, MEGABYTE, PNG, WEBP, sniff
from .validation import WEBHOOK_EVENTS, InvalidSubmission

IMAGES_FIELD = "images"
IMAGE_CAP = 10 * MEGABYTE
TOTAL_CAP = 100 * MEGABYTE
MIN_IMAGES = 15
MAX_IMAGES = 30
IMAGE_TYPES = (PNG, JPEG, WEBP)
SUBJECT_KINDS = ("person", "style", "object")
DEFAULT_SUBJECT_KIND = "person"
GENDERS = ("female", "male", "non-binary")
DEFAULT_STEPS = 1000
DEFAULT_LORA_RANK = 16
# A text field is kept up to this many bytes: far beyond any field's limit, so a longer one still fails it.
TEXT_CAP = 16 * 1024
# What a form may hold besides its images' bytes (part headers, text fields, parts of other names).
FORM_OVERHEAD = MEGABYTE
_SNIFF_BYTES = 64
_CHUNK = 256 * 1024
_TOTAL_TEXT = f"Images must not exceed {TOTAL_CAP // MEGABYTE} MB in all"

# The text fields, each with its JSON schema as the spec's multipart schema declares it.
_TEXT_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 60},
    "subjectKind": {"type": "string", "enum": list(SUBJECT_KINDS)},
    "gender": {"type": "string", "enum": list(GENDERS)},
    "ethnicity": {"type": "string", "minLength": 1, "maxLength": 40},
    "age": {"type": "string", "minLength": 1, "maxLength": 40},
    "webhookUrl": {"type": "string", "format": "uri"},
    "webhookEvents": {"type": "string"},
}
# The integer fields, sent as text and read as JavaScript's Number() reads it.
_INTEGER_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "steps": {"type": "integer", "minimum": 500, "maximum": 3000},
    "loraRank": {"type": "integer", "minimum": 8, "maximum": 64},
}
_REQUIRED_FOR_PERSON = ("gender", "ethnicity")


@dataclass(frozen=True)
class LoraForm:
    """A valid training request: its fields (defaults filled in) and how many images it sent."""

    name: str
    subject_kind: str
    gender: str | None
    ethnicity: str | None
    age: str | None
    steps: int
    lora_rank: int
    image_count: int
    image_bytes: int
    webhook_url: str | None = None
    webhook_events: tuple[str, ...] = ()


def _js_number(text: str) -> float | None:
    """Read a form value as JavaScript's ``Number()`` does; None where it gives NaN (or an infinity)."""
    stripped = text.strip()
    if not stripped:
        return 0.0
    try:
        number = float(stripped)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class _FormReader:
    """The state of one form as its parts stream in: texts kept, images counted, problems by field."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        # Text fields longer than TEXT_CAP: kept cut short, and refused.
        self.overlong: set[str] = set()
        self.image_count = 0
        self.image_bytes = 0
        self.other_bytes = 0
        # Set when the body was not read to its end: the fields it did not reach are not blamed.
        self.stopped = False
        self.errors: dict[str, list[str]] = defaultdict(list)

    async def read(self, reader: MultipartReader) -> None:
        """Read every part of the body, or up to the point it breaks a cap."""
        while not self.stopped:
            part = await reader.next()
            if part is None:
                return
            if not isinstance(part, BodyPartReader):
                await part.release()  # a nested multipart: no field of the form
            elif part.name == IMAGES_FIELD:
                await self._read_image(part)
            else:
                await self._read_other(part)

    async def _read_image(self, part: BodyPartReader) -> None:
        self.image_count += 1
        label = f"Image {self.image_count}" + (f" ({part.filename})" if part.filename else "")
        head = bytearray()
        size = 0
        while True:
            chunk = await part.read_chunk(_CHUNK)
            if not chunk:
                break
            if len(head) < _SNIFF_BYTES:
                head += chunk[: _SNIFF_BYTES - len(head)]
            size += len(chunk)
            self.image_bytes += len(chunk)
            if self.image_bytes > TOTAL_CAP:
                # Answer now: aiohttp reads and drops the rest of the body, so the client gets the 400.
                self.errors[IMAGES_FIELD].append(_TOTAL_TEXT)
                self.stopped = True
                return
        if size == 0:
            self.errors[IMAGES_FIELD].append(f"{label} is empty")
        elif sniff(bytes(head)) not in IMAGE_TYPES:
            self.errors[IMAGES_FIELD].append(f"{label} is not a JPEG, PNG or WebP image")
        elif size > IMAGE_CAP:
            self.errors[IMAGES_FIELD].append(f"{label} is larger than the {IMAGE_CAP // MEGABYTE} MB allowed")

    async def _read_other(self, part: BodyPartReader) -> None:
        name = part.name or ""
        keep = (name in _TEXT_SCHEMAS or name in _INTEGER_SCHEMAS) and name not in self.texts
        kept = bytearray()
        while True:
            chunk = await part.read_chunk(_CHUNK)
            if not chunk:
                break
            self.other_bytes += len(chunk)
            if self.other_bytes > FORM_OVERHEAD:
                self.errors[name or "body"].append("Field is larger than the form allows")
                self.stopped = True
                return
            if keep and len(kept) <= TEXT_CAP:
                kept += chunk[: TEXT_CAP + 1 - len(kept)]
        if keep:
            self.texts[name] = kept[:TEXT_CAP].decode("utf-8", errors="ignore")
            if len(kept) > TEXT_CAP:
                self.overlong.add(name)

    def _check_images(self) -> None:
        if self.stopped:
            return
        if self.image_count == 0:
            self.errors[IMAGES_FIELD].insert(0, "Required")
        elif self.image_count < MIN_IMAGES:
            self.errors[IMAGES_FIELD].insert(0, f"Array must contain at least {MIN_IMAGES} element(s)")
        elif self.image_count > MAX_IMAGES:
            self.errors[IMAGES_FIELD].insert(0, f"Array must contain at most {MAX_IMAGES} element(s)")

    def _check(self, field: str, schema: Mapping[str, Any], value: object) -> None:
        for where, message in zod.problems(schema, value, field):
            self.errors[where].append(message)

    def _integer(self, field: str, default: int) -> int:
        text = self.texts.get(field)
        if text is None:
            return default
        number = _js_number(text)
        if number is None:
            self.errors[field].append("Expected number, received nan")
            return default
        self._check(field, _INTEGER_SCHEMAS[field], int(number) if number.is_integer() else number)
        return int(number)

    def _webhook_events(self) -> tuple[str, ...]:
        text = self.texts.get("webhookEvents")
        if text is None:
            return ()
        events = tuple(event.strip() for event in text.split(",") if event.strip())
        for event in events:
            if event not in WEBHOOK_EVENTS:
                self.errors["webhookEvents"].append(
                    f"Invalid enum value. Expected {zod.join_values(WEBHOOK_EVENTS)}, received '{event}'"
                )
        return events

    def checked(self) -> LoraForm:
        """Return the valid form; :class:`InvalidSubmission` with every problem found."""
        self._check_images()
        texts = self.texts
        for field, value in texts.items():
            if field in _TEXT_SCHEMAS:
                self._check(field, _TEXT_SCHEMAS[field], value)
            if field in self.overlong and "maxLength" not in _TEXT_SCHEMAS.get(field, {}):
                self.errors[field].append(f"String must contain at most {TEXT_CAP} character(s)")
        subject_kind = texts.get("subjectKind", DEFAULT_SUBJECT_KIND)
        if not self.stopped:
            if "name" not in texts:
                self.errors["name"].append("Required")
            if subject_kind == "person":
                for field in _REQUIRED_FOR_PERSON:
                    if field not in texts:
                        self.errors[field].append("Required")
        steps = self._integer("steps", DEFAULT_STEPS)
        lora_rank = self._integer("loraRank", DEFAULT_LORA_RANK)
        events = self._webhook_events()
        if self.errors:
            raise InvalidSubmission("Validation failed", dict(self.errors))
        return LoraForm(
            name=texts["name"],
            subject_kind=subject_kind,
            gender=texts.get("gender"),
            ethnicity=texts.get("ethnicity"),
            age=texts.get("age"),
            steps=steps,
            lora_rank=lora_rank,
            image_count=self.image_count,
            image_bytes=self.image_bytes,
            webhook_url=texts.get("webhookUrl"),
            webhook_events=events,
        )


async def read_lora_form(request: web.Request) -> LoraForm:
    """Read and check the form of a ``POST /v2/loras``; :class:`InvalidSubmission` if it is refused."""
    if request.content_type != "multipart/form-data":
        raise InvalidSubmission(
            "Validation failed",
            {IMAGES_FIELD: ["Required: send the images and fields as a multipart/form-data body"]},
        )
    declared = request.content_length
    if declared is not None and declared > TOTAL_CAP + FORM_OVERHEAD:
        raise InvalidSubmission("Validation failed", {IMAGES_FIELD: [_TOTAL_TEXT]})  # refused unread
    form = _FormReader()
    try:
        reader = await request.multipart()
        await form.read(reader)
    except (ValueError, AssertionError) as exc:
        raise InvalidSubmission(f"Unreadable multipart body: {exc}") from None
    return form.checked()
