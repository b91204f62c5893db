"""
What each job returns, planned when it is submitted: how many files, of what kind, size and length.

- Image generation: as :mod:`.outputs` plans it (each model's documented sizes and formats).
- Upscaling: the input image's size times the factor asked (2 by default), in the format asked; an input
  the emulator knows (one of its uploads or job images) has its real size, any other is taken to be
  :data:`DEFAULT_INPUT_SIZE`. Background removal keeps the input's size: a PNG with an alpha channel
  (a cut-out), or the subject on a backdrop where the body asks for a JPEG or a coloured background.
  Editing (Flux Fill) keeps the size for an inpaint and grows it as an outpaint option says.
- Midjourney actions: an upsample is the grid image ``index`` picked, on its own; every other action a
  new grid of four at the parent's size (a pan widens or heightens it by half).
- Videos: one MP4, its short side from ``resolution`` (720p by default), its shape from
  ``aspect_ratio`` (16:9 by default), as long as ``duration`` asks or the model's shortest clip. An
  upscale or an edit of a video the emulator made keeps that video's shape (and, upscaled, its length).
- Music: WAV songs, as long as ``music_length_ms`` asks, else :data:`DEFAULT_SONG_SECONDS`; Suno and
  Udio two per call. A Suno extend adds a song's length to the track (from ``continueAt``), a cover or
  added vocals keep its length, stems split it into ``vocals`` and ``instrumental``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from .actions import MIDJOURNEY_ACTIONS, SUNO_ACTIONS, Parent
from .catalogue import IMAGE_GENERATION, ModelSpec
from .outputs import bounded, file_format, plan_output
from .recipes import (
    Deliverable,
    MediaFile,
    PictureRecipe,
    SoundRecipe,
    VideoRecipe,
    generated_picture,
)
from .validation import Submission

# Looks up the pixel size of an input image by its URL; None for one the emulator does not know.
InputSize = Callable[[str], tuple[int, int] | None]
# Looks up how an input video the emulator made was made, by its URL; None for any other.
InputVideo = Callable[[str], VideoRecipe | None]
DEFAULT_INPUT_SIZE = (1024, 1024)
DEFAULT_UPSCALE_FACTOR = 2
DEFAULT_SONG_SECONDS = 8.0
DEFAULT_SAMPLE_RATE = 8000
DEFAULT_VIDEO_RATIO = (16, 9)
DEFAULT_SHORT_SIDE = 720
# A video's short side by the resolutions the video models name.
_SHORT_SIDES = {"480p": 480, "720p": 720, "768p": 768, "1080p": 1080, "4k": 2160}
_NAMED_RESOLUTIONS = {"standard": 720, "high": 1080, "sd": 480, "hd": 720}
# ElevenLabs' WAV formats, by their sample rate; its MP3 formats are served as WAV at the default rate.
_SAMPLE_RATES = {"wav_16khz": 16000, "wav_22khz": 22050, "wav_24khz": 24000, "wav_cd_quality": 44100}
# Flux Fill's outpaint options: how they change the width and the height.
_OUTPAINT_SCALES = {
    "Zoom out 1.5x": (1.5, 1.5),
    "Zoom out 2x": (2.0, 2.0),
    "Left outpaint": (1.5, 1.0),
    "Right outpaint": (1.5, 1.0),
    "Top outpaint": (1.0, 1.5),
    "Bottom outpaint": (1.0, 1.5),
}
# Background removal's backdrops, where the result is not a transparent cut-out.
_WHITE = (255, 255, 255)
_BACKDROPS = {"white": _WHITE, "green": (0, 177, 64), "map": (0, 0, 0)}
_GREY = (128, 128, 128)
_RATIO = re.compile(r"(\d{1,4}):(\d{1,4})", re.ASCII)
_STEP = 16


def _picture(job_id: str, label: str, size: tuple[int, int], fmt: str, text: str, caption: str) -> MediaFile:
    width, height = size
    return MediaFile(label, PictureRecipe(width, height, fmt, f"{job_id}/{label}", text, caption))


def _input_size(params: Mapping[str, Any], input_size: InputSize) -> tuple[int, int]:
    url = params.get("image")
    known = input_size(url) if isinstance(url, str) else None
    return known or DEFAULT_INPUT_SIZE


def _even(length: float) -> int:
    return max(2, 2 * round(length / 2))


def _generated_images(submission: Submission, job_id: str) -> Deliverable:
    output = plan_output(submission.model, submission.params)
    files = tuple(
        MediaFile(
            str(index),
            generated_picture(job_id, index, submission.prompt, output.width, output.height, output.format),
        )
        for index in range(1, output.count + 1)
    )
    return Deliverable("images", files)


def _upscaled(submission: Submission, job_id: str, input_size: InputSize) -> Deliverable:
    params = submission.params
    factor = params.get("upscale_factor", params.get("scale_factor", DEFAULT_UPSCALE_FACTOR))
    width, height = _input_size(params, input_size)
    size = bounded(round(width * factor), round(height * factor))
    fmt = file_format(submission.model.params, params)
    return Deliverable(
        "images", (_picture(job_id, "1", size, fmt, f"Upscaled {factor:g}x", f"job {job_id}"),)
    )


def _cut_out(submission: Submission, job_id: str, input_size: InputSize) -> Deliverable:
    params = submission.params
    fmt = file_format(submission.model.params, params, key="format")
    background = params.get("background_type", "rgba")
    transparent = fmt != "jpg" and background == "rgba"
    # A JPEG cannot be transparent: its cut-out lies on white; blur and overlay are shown as grey.
    backdrop = None if transparent else _BACKDROPS.get(background, _GREY if background != "rgba" else _WHITE)
    width, height = _input_size(params, input_size)
    recipe = PictureRecipe(
        width, height, fmt, f"{job_id}/1", "Background removed", f"job {job_id}", transparent, backdrop
    )
    return Deliverable("images", (MediaFile("1", recipe),))


def _edited(submission: Submission, job_id: str, input_size: InputSize) -> Deliverable:
    params = submission.params
    width, height = _input_size(params, input_size)
    if params.get("mode") == "outpaint":
        option = params.get("outpaint", "Zoom out 1.5x")
        if option == "Make square":
            width = height = max(width, height)
        else:
            grow_x, grow_y = _OUTPAINT_SCALES.get(option, (1.0, 1.0))
            width, height = round(width * grow_x), round(height * grow_y)
    fmt = file_format(submission.model.params, params)
    text = str(params.get("prompt", ""))
    return Deliverable("images", (_picture(job_id, "1", bounded(width, height), fmt, text, f"job {job_id}"),))


def _midjourney_action(submission: Submission, job_id: str, parent: Parent) -> Deliverable:
    action = submission.model.id
    picked = parent.file.recipe if parent.file is not None else None
    if not isinstance(picked, PictureRecipe):
        return Deliverable("images")
    if action == "upsample":
        return Deliverable("images", (MediaFile("1", replace(picked, caption=f"job {job_id} upsample")),))
    width, height = picked.width, picked.height
    if action == "pan":
        direction = submission.params.get("direction")
        if direction in ("left", "right"):
            width = round(width * 1.5 / _STEP) * _STEP
        else:
            height = round(height * 1.5 / _STEP) * _STEP
    text = str(submission.params.get("prompt") or picked.text)
    files = tuple(
        _picture(job_id, str(n), bounded(width, height), picked.format, text, f"job {job_id} #{n} ({action})")
        for n in range(1, 5)
    )
    return Deliverable("images", files)


def _video_ratio(value: object) -> tuple[int, int]:
    match = _RATIO.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0 or int(match[2]) == 0:
        return DEFAULT_VIDEO_RATIO
    return int(match[1]), int(match[2])


def _video_size(params: Mapping[str, Any], source: VideoRecipe | None) -> tuple[int, int]:
    resolution = params.get("resolution", params.get("target_resolution"))
    short = _SHORT_SIDES.get(resolution, _NAMED_RESOLUTIONS.get(resolution, DEFAULT_SHORT_SIDE))
    ratio = params.get("aspect_ratio")
    if source is not None and ratio in (None, "auto"):
        across, down = source.width, source.height
    else:
        across, down = _video_ratio(ratio)
    if across >= down:
        return bounded(_even(short * across / down), short)
    return bounded(short, _even(short * down / across))


def _video(submission: Submission, job_id: str, input_video: InputVideo) -> Deliverable:
    params = submission.params
    url = params.get("video")
    source = input_video(url) if isinstance(url, str) else None
    seconds = float(params.get("duration", submission.model.default_duration()))
    if source is not None and submission.operation == "/v2/videos/upscale":
        seconds = source.seconds
    width, height = _video_size(params, source)
    text = submission.prompt or f"{submission.model.label}"
    return Deliverable("videos", (MediaFile("1", VideoRecipe(width, height, seconds, f"{job_id}/1", text)),))


def _songs(submission: Submission, job_id: str) -> Deliverable:
    spec: ModelSpec = submission.model
    params = submission.params
    length = params.get("music_length_ms")
    seconds = length / 1000 if isinstance(length, int | float) else DEFAULT_SONG_SECONDS
    rate = _SAMPLE_RATES.get(params.get("output_format", ""), DEFAULT_SAMPLE_RATE)
    files = tuple(
        MediaFile(str(n), SoundRecipe(seconds, rate, f"{job_id}/{n}"))
        for n in range(1, spec.image_count(params) + 1)
    )
    return Deliverable("audio", files)


def _suno_action(submission: Submission, job_id: str, parent: Parent) -> Deliverable:
    track = parent.file.recipe if parent.file is not None else None
    if not isinstance(track, SoundRecipe):
        return Deliverable("audio")
    action = submission.model.id
    if action == "stems":
        parts = ("vocals", "instrumental")
        return Deliverable(
            "audio",
            tuple(MediaFile(part, replace(track, seed=f"{job_id}/{part}", part=part)) for part in parts),
        )
    seconds = track.seconds
    if action == "extend":
        seconds = float(submission.params.get("continueAt", track.seconds)) + DEFAULT_SONG_SECONDS
    return Deliverable(
        "audio",
        tuple(MediaFile(str(n), SoundRecipe(seconds, track.sample_rate, f"{job_id}/{n}")) for n in (1, 2)),
    )


def plan_deliverable(
    submission: Submission,
    job_id: str,
    parent: Parent | None,
    input_size: InputSize,
    input_video: InputVideo,
) -> Deliverable:
    """Plan the files a job returns once COMPLETED, from its validated body and the parent it acts on."""
    operation = submission.operation
    if operation == IMAGE_GENERATION:
        return _generated_images(submission, job_id)
    if operation == "/v2/images/upscale":
        return _upscaled(submission, job_id, input_size)
    if operation == "/v2/images/background-remove":
        return _cut_out(submission, job_id, input_size)
    if operation == "/v2/images/edit":
        return _edited(submission, job_id, input_size)
    if operation == MIDJOURNEY_ACTIONS and parent is not None:
        return _midjourney_action(submission, job_id, parent)
    if operation == SUNO_ACTIONS and parent is not None:
        return _suno_action(submission, job_id, parent)
    if operation.startswith("/v2/videos/"):
        return _video(submission, job_id, input_video)
    if operation.startswith("/v2/music/"):
        return _songs(submission, job_id)
    raise ValueError(f"no plan for the results of {operation}")
