"""
What a job's images look like: how many, their pixel size and file format, from the model's options.

Imagen keeps Google's documented table, the OpenAI models their documented sizes. Elsewhere explicit
``width``/``height`` win; then an exact size a resolution parameter names (``1024x768``, Qwen's
``landscape_16_9``); then ``aspect_ratio`` (any ``W:H``) at the area a resolution parameter implies
(``2K``, ``1MP``, ``512px``), else about one megapixel, both sides multiples of 16.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

from .catalogue import ModelSpec, ParamsBlock

_MEGAPIXEL = 1024 * 1024
# Keys that set the output's resolution, in the order they are looked at.
_RESOLUTION_PARAMS = ("resolution", "image_size", "size")
# Sizes the vendors document, by parameter block then aspect ratio, at their base resolution. A
# resolution parameter scales them by the square root of its area over a megapixel: Imagen's 2K doubles.
_IMAGEN_SIZES = {
    "1:1": (1024, 1024),
    "3:4": (896, 1280),
    "4:3": (1280, 896),
    "9:16": (768, 1408),
    "16:9": (1408, 768),
}
_GPT_IMAGE_SIZES = {"1:1": (1024, 1024), "3:2": (1536, 1024), "2:3": (1024, 1536)}
_DOCUMENTED_SIZES: Mapping[str, Mapping[str, tuple[int, int]]] = {
    "imagenParams": _IMAGEN_SIZES,
    "gptImageParams": _GPT_IMAGE_SIZES,
    "gptImage2Params": _GPT_IMAGE_SIZES,
    "dalleParams": {"1:1": (1024, 1024), "3:2": (1792, 1024), "2:3": (1024, 1792)},
}
# Qwen-Image's named sizes (``image_size``), as fal.ai serves them.
_NAMED_SIZES = {
    "square": (512, 512),
    "square_hd": (1024, 1024),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
# Above any vendor's largest (Gemini's 4K at 16:9 is 5504x3072, 16.9 MP): free-form sizes are brought
# down to this, so that a request cannot make the emulator render gigapixels.
_MAX_PIXELS = 17_000_000
_MAX_SIDE = 8192
_STEP = 16

_RATIO = re.compile(r"(\d+):(\d+)", re.ASCII)
# Numbers of at most 6 digits: anything longer is no size, and Python's floats need not meet it.
_EXACT = re.compile(r"(\d{1,6})\s*[x*]\s*(\d{1,6})", re.IGNORECASE)
# A resolution that sets the area, as a vendor means it: 2K is 2048x2048 pixels' worth, 1MP 1024x1024's.
_AREA = re.compile(r"(\d{1,6}(?:\.\d{1,6})?)\s*(K|MP|px)", re.IGNORECASE)
_FORMAT_ALIASES = {"jpeg": "jpg"}


@dataclass(frozen=True)
class ImageOutput:
    """The images a job returns: their pixel size, how many, and their file format."""

    width: int
    height: int
    count: int
    # The file extension, also the format the bytes are in: jpg, png or webp.
    format: str


def plan_output(model: ModelSpec, params: Mapping[str, Any]) -> ImageOutput:
    """Plan the images a job of ``model`` with these validated (and defaulted) parameters returns."""
    width, height = _pixel_size(model.params, params)
    return ImageOutput(width, height, model.image_count(params), _file_format(model, params))


def _pixel_size(block: ParamsBlock, params: Mapping[str, Any]) -> tuple[int, int]:
    width, height = params.get("width"), params.get("height")
    ratio = _ratio(params.get("aspect_ratio")) or 1.0
    if width is not None and height is not None:
        return bounded(int(width), int(height))
    # One side given: the other follows the aspect ratio, within what the block allows for it.
    if width is not None:
        return bounded(int(width), _allowed(_snap(width / ratio), block.schemas.get("height", {})))
    if height is not None:
        return bounded(_allowed(_snap(height * ratio), block.schemas.get("width", {})), int(height))
    settings = [params[name] for name in _RESOLUTION_PARAMS if isinstance(params.get(name), str)]
    for setting in settings:
        exact = _exact_size(setting)
        if exact is not None:
            return bounded(*exact)
    area = next((found for found in map(_area, settings) if found is not None), _MEGAPIXEL)
    documented = _DOCUMENTED_SIZES.get(block.key, {}).get(params.get("aspect_ratio", "1:1"))
    if documented is not None:
        scale = math.sqrt(area / _MEGAPIXEL)
        return bounded(round(documented[0] * scale), round(documented[1] * scale))
    return bounded(_snap(math.sqrt(area * ratio)), _snap(math.sqrt(area / ratio)))


def _ratio(value: object) -> float | None:
    """Width over height for a ``W:H`` string, kept within what a 16-pixel side allows."""
    match = _RATIO.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0 or int(match[2]) == 0:
        return None
    widest = Fraction(_MAX_SIDE, _STEP)
    return float(min(max(Fraction(int(match[1]), int(match[2])), 1 / widest), widest))


def _exact_size(setting: str) -> tuple[int, int] | None:
    if setting in _NAMED_SIZES:
        return _NAMED_SIZES[setting]
    match = _EXACT.fullmatch(setting.strip())
    if match is None or int(match[1]) == 0 or int(match[2]) == 0:
        return None
    return int(match[1]), int(match[2])


def _area(setting: str) -> float | None:
    match = _AREA.fullmatch(setting.strip())
    if match is None or float(match[1]) == 0:
        return None
    number, unit = float(match[1]), match[2].lower()
    if unit == "mp":
        return number * _MEGAPIXEL
    side = number * 1024 if unit == "k" else number
    return side * side


def _allowed(length: int, schema: Mapping[str, Any]) -> int:
    return int(min(max(length, schema.get("minimum", length)), schema.get("maximum", length)))


def _snap(length: float) -> int:
    return max(_STEP, round(length / _STEP) * _STEP)


def bounded(width: int, height: int) -> tuple[int, int]:
    """Shrink the size (keeping its shape, sides multiples of 16) if it is beyond any vendor's largest."""
    shrink = min(1.0, _MAX_SIDE / max(width, height), math.sqrt(_MAX_PIXELS / (width * height)))
    if shrink == 1.0:
        return width, height
    return (
        max(_STEP, math.floor(width * shrink / _STEP) * _STEP),
        max(_STEP, math.floor(height * shrink / _STEP) * _STEP),
    )


def _file_format(model: ModelSpec, params: Mapping[str, Any]) -> str:
    return file_format(model.params, params)


def file_format(block: ParamsBlock, params: Mapping[str, Any], key: str = "output_format") -> str:
    """Return the image format a job makes: the one asked, else the spec's default, else the first listed."""
    # The spec's default is already in params when it publishes one.
    declared = params.get(key)
    if declared is None:
        declared = block.schemas.get(key, {}).get("enum", ["png"])[0]
    served = _FORMAT_ALIASES.get(declared, declared)
    # Pillow without libwebp cannot write WEBP: then the image is a PNG, and named so.
    return "png" if served == "webp" and not _webp_supported() else served


@cache
def _webp_supported() -> bool:
    from PIL import features

    return bool(features.check("webp"))
