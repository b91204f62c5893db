"""
The emulated teams, and which one each API key belongs to.

Every key of ``api_keys`` belongs to the first team; the keys of ``other_team_keys`` to a second one,
so that tests can see the API answer "not found" for another team's job or LoRA. Stable ids make
``/v2/me`` answers comparable across runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .config import EmulatorConfig

_NAMESPACE = uuid.UUID("6f1d9a52-3c1e-4b8e-9d1a-0a7e5c2b9f40")
TEAM_ID = str(uuid.uuid5(_NAMESPACE, "team"))
USER_ID = str(uuid.uuid5(_NAMESPACE, "user"))
OTHER_TEAM_ID = str(uuid.uuid5(_NAMESPACE, "other-team"))
OTHER_USER_ID = str(uuid.uuid5(_NAMESPACE, "other-user"))


@dataclass(frozen=True)
class Team:
    """A team as the API shows it: its id, its one user's id and its name."""

    id: str
    user_id: str
    name: str


MAIN_TEAM = Team(TEAM_ID, USER_ID, "apiframe emulator")
OTHER_TEAM = Team(OTHER_TEAM_ID, OTHER_USER_ID, "apiframe emulator (second team)")


def team_of(key: str, config: EmulatorConfig) -> Team:
    """Return the team a valid key belongs to."""
    return OTHER_TEAM if key in config.other_team_keys else MAIN_TEAM


def key_name(key: str, config: EmulatorConfig) -> str:
    """Return the name ``GET /v2/me`` gives a valid key: ``emulator key <n>``, numbered within its team."""
    if key in config.other_team_keys:
        return f"emulator key {config.other_team_keys.index(key) + 1} (second team)"
    return f"emulator key {config.api_keys.index(key) + 1}"


def api_key_id(key: str) -> str:
    """Return the id ``GET /v2/me`` gives a key: the same for the same key in every run."""
    return str(uuid.uuid5(_NAMESPACE, f"key:{key}"))
