"""The emulator's CDN: jobs' images, videos and audio, and uploads, each served until it expires."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from .audio import render_sound
from .images import render_picture
from .jobs import JobStatus
from .recipes import RESULT_KINDS, PictureRecipe, Recipe, SoundRecipe, VideoRecipe
from .responses import error_response
from .state import EmulatorState
from .uploads import Upload
from .video import render_video

# A job's file name starts with its id, a UUID of 36 characters.
_JOB_ID_LENGTH = 36


def cdn_root(request: web.Request) -> str:
    """Return the CDN's base URL, built from the request so that URLs work whichever host the client used."""
    return f"{request.scheme}://{request.host}/cdn"


def render(recipe: Recipe) -> bytes:
    """Return the bytes of a file as its recipe says (each renderer caches its recent files)."""
    renderer: Callable[..., bytes]
    if isinstance(recipe, PictureRecipe):
        renderer = render_picture
    elif isinstance(recipe, VideoRecipe):
        renderer = render_video
    elif isinstance(recipe, SoundRecipe):
        renderer = render_sound
    else:  # pragma: no cover - the recipe types are closed
        raise TypeError(f"no renderer for {recipe!r}")
    return renderer(recipe)


def image_pixel_size(upload_data: bytes) -> tuple[int, int] | None:
    """Read an uploaded image's width and height from its header; None if Pillow cannot tell."""
    try:
        with Image.open(io.BytesIO(upload_data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


class CdnRoutes:
    """The handlers of ``/cdn/{images,videos,audio}/<job id>-<label>.<ext>`` and ``/cdn/uploads/...``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        """Return the route of each handler."""
        return [
            web.get("/cdn/uploads/{name}", self.upload),
            web.get("/cdn/{kind}/{name}", self.job_file),
        ]

    async def job_file(self, request: web.Request) -> web.Response:
        """Serve a completed job's file until the job expires; render it off the event loop the first time."""
        kind, name = request.match_info["kind"], request.match_info["name"]
        job = self.state.jobs.get(name[:_JOB_ID_LENGTH])
        now = self.state.clock.now()
        file = job.media_file(name) if job is not None and kind in RESULT_KINDS else None
        if (
            job is None
            or file is None
            or job.deliverable.kind != kind
            or job.progress_at(now).status is not JobStatus.COMPLETED
            or job.is_expired(now, self.state.config.retention)
        ):
            return error_response(404, "Not found")
        # Rendering takes up to a few hundred milliseconds; keep the event loop answering meanwhile.
        data = await asyncio.get_running_loop().run_in_executor(None, render, file.recipe)
        return web.Response(body=data, content_type=file.recipe.content_type)

    async def upload(self, request: web.Request) -> web.Response:
        """Serve an upload's bytes as they were sent, until it expires."""
        upload: Upload | None = self.state.find_upload(request.match_info["name"])
        if upload is None:
            return error_response(404, "Not found")
        return web.Response(body=upload.data, content_type=upload.type.content_type)
