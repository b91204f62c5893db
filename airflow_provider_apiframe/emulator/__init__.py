"""
An emulator of apiframe's v2 API (see the project's API contract), for tests and demos.

Start one with ``EmulatorServer`` (a context manager, in a thread), ``emulator_process`` (the
command in a child process), the pytest fixtures in ``pytest_plugin``, or the ``apiframe-emulator``
command. It serves every job endpoint of the spec (images, Midjourney actions, videos, music, Suno
actions) with real files that standard tools open (JPEG/PNG/WEBP images, Motion-JPEG MP4 videos, WAV
audio), uploads, and LoRA trainings (``/v2/loras``: see ``lora_routes``; ``flux-lora`` generation takes only
a READY LoRA of the caller's team). Beyond the real API it offers:

- production's variety: job lengths drawn lognormal (``duration_sigma``; videos and songs take
  ``video_duration_factor`` and ``music_duration_factor`` times an image's, a LoRA training
  ``lora_duration_factor`` times), progress of several shapes
  (``progress_shape``: linear, front, back, steps, stall, none, or mixed), a share of jobs that fail
  (``job_failure_rate``), lost submit answers and periodic outages;
- prompt markers: ``[fail]`` ends the job FAILED (credits refunded), ``[fail-first]`` only the first
  job of that prompt, ``[cancel]`` CANCELLED,
  ``[never]`` keeps it PROCESSING forever, ``[duration:12.5]`` and ``[progress:front]`` set one job's
  length and progress shape (in a LoRA's ``name``, ``[fail]``, ``[fail-first]``, ``[never]`` and
  ``[duration:...]`` work alike);
- a cap on each team's LoRA trainings in flight (``lora_training_cap``, 429 beyond it), and keys of a
  second team (``other_team_keys``) to whom the first team's jobs and LoRAs are "not found";
- controls without a key: ``GET /_emulator/stats``, ``POST /_emulator/faults``
  ``{"rules": [...]}`` (see ``faults.FaultRule``), ``POST /_emulator/reset`` and
  ``POST /_emulator/clock`` ``{"advance": seconds}``.

Importing this package is cheap: aiohttp and Pillow load only when a server is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import EmulatorConfig
from .process import emulator_process

if TYPE_CHECKING:
    from .runner import EmulatorServer
    from .server import build_app

__all__ = ["EmulatorConfig", "EmulatorServer", "build_app", "emulator_process"]


def __getattr__(name: str) -> Any:
    if name == "EmulatorServer":
        from .runner import EmulatorServer

        return EmulatorServer
    if name == "build_app":
        from .server import build_app

        return build_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
