"""
What a job delivers: its files on the CDN, each with the recipe its bytes are rendered from.

A recipe holds everything rendering needs and nothing else, is hashable, and names its job in its seed, so
that the renderers can cache their files per job (a client polling a finished job fetches them again and
again) and two jobs never share a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# A job's result key, which is also the CDN folder its files are served from.
ResultKind = Literal["images", "videos", "audio"]
RESULT_KINDS: tuple[ResultKind, ...] = ("images", "videos", "audio")

IMAGE_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
VIDEO_CONTENT_TYPE = "video/mp4"
AUDIO_CONTENT_TYPE = "audio/wav"


@dataclass(frozen=True)
class PictureRecipe:
    """An image: its size and format, the colour seed, the text across it and the caption at its foot."""

    width: int
    height: int
    # The file extension, also the format the bytes are in: jpg, png or webp.
    format: str
    seed: str
    text: str
    caption: str
    # A background removal's cut-out: the subject on a transparent background (PNG/WEBP only).
    cutout: bool = False
    # The background a cut-out is laid on when it is not transparent (a JPEG, or a coloured backdrop).
    backdrop: tuple[int, int, int] | None = None

    @property
    def extension(self) -> str:
        """Return the file name's extension."""
        return self.format

    @property
    def content_type(self) -> str:
        """Return the MIME type the CDN serves the file with."""
        return IMAGE_CONTENT_TYPES[self.format]


@dataclass(frozen=True)
class VideoRecipe:
    """A video: its frame size, its length, the colour seed and the text across its frames."""

    width: int
    height: int
    seconds: float
    seed: str
    text: str

    @property
    def extension(self) -> str:
        """Return the file name's extension."""
        return "mp4"

    @property
    def content_type(self) -> str:
        """Return the MIME type the CDN serves the file with."""
        return VIDEO_CONTENT_TYPE


@dataclass(frozen=True)
class SoundRecipe:
    """A piece of audio: its length and sample rate, the seed of its tune, and which part of a song it is."""

    seconds: float
    sample_rate: int
    seed: str
    # "song", or one of a song's stems: "vocals" or "instrumental".
    part: str = "song"

    @property
    def extension(self) -> str:
        """Return the file name's extension."""
        return "wav"

    @property
    def content_type(self) -> str:
        """Return the MIME type the CDN serves the file with."""
        return AUDIO_CONTENT_TYPE


Recipe = PictureRecipe | VideoRecipe | SoundRecipe


@dataclass(frozen=True)
class MediaFile:
    """One file of a job's result: its label in the file name (``1``, ``2``, ``vocals``) and its recipe."""

    label: str
    recipe: Recipe

    def name(self, job_id: str) -> str:
        """Return the file's name on the CDN: ``<job id>-<label>.<extension>``."""
        return f"{job_id}-{self.label}.{self.recipe.extension}"


@dataclass(frozen=True)
class Deliverable:
    """Everything a job returns once COMPLETED: its kind (the result's key) and its files, in order."""

    kind: ResultKind
    files: tuple[MediaFile, ...] = ()

    def file(self, label: str) -> MediaFile | None:
        """Return the file with this label, if the job has one."""
        return next((file for file in self.files if file.label == label), None)


NOTHING = Deliverable("images")


def generated_picture(
    job_id: str, index: int, prompt: str, width: int, height: int, output_format: str
) -> PictureRecipe:
    """Return the recipe of a generation job's ``index``-th image (from 1): the prompt across it."""
    return PictureRecipe(
        width=width,
        height=height,
        format=output_format,
        seed=f"{job_id}/{index}",
        text=prompt,
        caption=f"job {job_id} #{index}",
    )
