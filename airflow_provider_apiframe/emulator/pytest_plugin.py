"""Opt-in pytest fixtures: ``pytest_plugins = ["airflow_provider_apiframe.emulator.pytest_plugin"]``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .runner import EmulatorServer

# Short enough that a test waiting for a job barely notices, long enough to observe QUEUED first.
FAST_JOB_DURATION = 0.3
# Videos and songs take twice an image's time here (0.6 s), not the emulator's default ten and five times.
FAST_MEDIA_FACTOR = 2.0
# A LoRA training takes three image jobs' time here (0.9 s), not the emulator's default five.
FAST_LORA_FACTOR = 3.0


@pytest.fixture
def apiframe_emulator_factory() -> Iterator[Callable[..., EmulatorServer]]:
    """Start emulators with :class:`EmulatorConfig` overrides as keywords; all stop at teardown."""
    # Imported here so that loading the plugin costs nothing for tests that never start a server.
    from .runner import EmulatorServer

    started: list[EmulatorServer] = []

    def start(**overrides: Any) -> EmulatorServer:
        overrides.setdefault("job_duration", FAST_JOB_DURATION)
        overrides.setdefault("video_duration_factor", FAST_MEDIA_FACTOR)
        overrides.setdefault("music_duration_factor", FAST_MEDIA_FACTOR)
        overrides.setdefault("lora_duration_factor", FAST_LORA_FACTOR)
        server = EmulatorServer(**overrides).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def apiframe_emulator(apiframe_emulator_factory: Callable[..., EmulatorServer]) -> EmulatorServer:
    """Start an emulator with the default key, 0.3 s image jobs, 0.6 s video and music jobs, 0.9 s LoRAs."""
    return apiframe_emulator_factory()
