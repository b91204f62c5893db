"""
A LoRA and how its training advances: derived lazily from the clock, as a job's status is.

A training goes PENDING, UPLOADING, TRAINING, then READY (or FAILED with an ``error``). Its length is
drawn as a job's is (lognormal around ``job_duration`` times ``lora_duration_factor``); the first part of
it, a job's queued share, is PENDING, the next :data:`UPLOADING_SHARE` UPLOADING, the rest TRAINING.
Markers in the ``name`` work as in a job's prompt: ``[fail]`` ends it FAILED, ``[fail-first]`` only the
first LoRA of that name, ``[never]`` keeps it TRAINING forever, ``[duration:12.5]`` sets its length;
``job_failure_rate`` fails a share of them too. ``[cancel]`` means nothing here: no LoRA is CANCELLED.

The emulator's choices where the spec is silent:

- ``startedAt`` is the moment the LoRA leaves PENDING (the trainer took it up), ``completedAt`` the moment
  it ends READY or FAILED;
- ``triggerWord`` is set from creation: up to 12 lowercase ASCII letters of the name (``lora`` if it has
  none) and 3 digits drawn from the id, ``adalovelace042`` for "Ada Lovelace";
- archiving (``DELETE``) freezes the LoRA where it stood: it reads ARCHIVED, with the times and error it
  had; ``isReady`` and ``hasWeights`` are false (the trainer's weights are cleaned up). A training archived
  before it ends is stopped: it no longer counts against the in-flight cap, and is not refunded (only a
  training that ends FAILED is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .jobs import Scenario, iso_utc
from .lora_form import LoraForm
from .teams import Team

LORA_CREDIT_COST = 2
UPLOADING_SHARE = 0.15
FAILURE_MESSAGE = "Training failed: the trainer could not fit the images (emulated)"
_TRIGGER_LETTERS = 12


class LoraStatus(StrEnum):
    """A LoRA's status, as the API names it."""

    PENDING = "PENDING"
    UPLOADING = "UPLOADING"
    TRAINING = "TRAINING"
    READY = "READY"
    FAILED = "FAILED"
    ARCHIVED = "ARCHIVED"


IN_FLIGHT = (LoraStatus.PENDING, LoraStatus.UPLOADING, LoraStatus.TRAINING)


def trigger_word(name: str, lora_id: str) -> str:
    """Make a LoRA's trigger word: the name's lowercase ASCII letters (12 at most) and 3 digits of its id."""
    letters = "".join(re.findall(r"[a-z]", name.lower()))[:_TRIGGER_LETTERS] or "lora"
    return f"{letters}{int(lora_id.replace('-', '')[:8], 16) % 1000:03d}"


@dataclass(frozen=True)
class Stage:
    """Where a training stands at one moment: its status, when it started and ended, and why it failed."""

    status: LoraStatus
    started_at: float | None = None
    completed_at: float | None = None
    error: str | None = None


@dataclass
class Lora:
    """A LoRA: what was asked, when, and how its training goes; only its archival changes after creation."""

    id: str
    team: Team
    form: LoraForm
    # The order of creation, which breaks ties between LoRAs created at the same moment.
    serial: int
    created_at: float
    duration: float
    pending_share: float
    fails: bool
    trigger_word: str
    cost: int = LORA_CREDIT_COST
    archived_at: float | None = None

    @property
    def scenario(self) -> Scenario:
        """How the training ends: as its name asks, else failed where the failure rate picked it."""
        scenario = Scenario.from_prompt(self.form.name)
        if scenario is Scenario.CANCEL:
            scenario = Scenario.SUCCEED
        return Scenario.FAIL if scenario is Scenario.SUCCEED and self.fails else scenario

    @property
    def ends_at(self) -> float | None:
        """When the training ends, READY or FAILED; None for one that never does."""
        if self.scenario is Scenario.NEVER_END:
            return None
        return self.created_at + self.duration

    @property
    def started_at(self) -> float:
        """When the training leaves PENDING."""
        return self.created_at + self.duration * self.pending_share

    def _training_stage(self, moment: float) -> Stage:
        ends_at = self.ends_at
        if ends_at is not None and moment >= ends_at:
            if self.scenario is Scenario.FAIL:
                return Stage(LoraStatus.FAILED, self.started_at, ends_at, FAILURE_MESSAGE)
            return Stage(LoraStatus.READY, self.started_at, ends_at)
        if moment < self.started_at:
            return Stage(LoraStatus.PENDING)
        if moment < self.started_at + self.duration * UPLOADING_SHARE:
            return Stage(LoraStatus.UPLOADING, self.started_at)
        return Stage(LoraStatus.TRAINING, self.started_at)

    def stage_at(self, now: float) -> Stage:
        """Return where the LoRA stands at ``now``; once archived, ARCHIVED with what it had then."""
        if self.archived_at is not None and now >= self.archived_at:
            frozen = self._training_stage(self.archived_at)
            return Stage(LoraStatus.ARCHIVED, frozen.started_at, frozen.completed_at, frozen.error)
        return self._training_stage(now)

    def in_flight(self, now: float) -> bool:
        """Whether the training is under way at ``now``: PENDING, UPLOADING or TRAINING."""
        return self.stage_at(now).status in IN_FLIGHT

    def failed_by(self, now: float) -> bool:
        """Whether the training had ended FAILED by ``now``, before any archival: its credits are due back."""
        ends_at = self.ends_at
        if ends_at is None or self.scenario is not Scenario.FAIL or now < ends_at:
            return False
        return self.archived_at is None or self.archived_at >= ends_at

    def archive(self, now: float) -> None:
        """Archive the LoRA at ``now``; archiving it again changes nothing."""
        if self.archived_at is None:
            self.archived_at = now

    def to_json(self, now: float) -> dict[str, Any]:
        """Return the LoRA as ``GET /v2/loras/{id}`` answers it: every field the spec's ``Lora`` requires."""
        stage = self.stage_at(now)
        ready = stage.status is LoraStatus.READY
        form = self.form
        return {
            "id": self.id,
            "userId": self.team.user_id,
            "teamId": self.team.id,
            "name": form.name,
            "subjectKind": form.subject_kind,
            "gender": form.gender,
            "ethnicity": form.ethnicity,
            "age": form.age,
            "status": stage.status.value,
            "imageCount": form.image_count,
            "steps": form.steps,
            "loraRank": form.lora_rank,
            "isReady": ready,
            "error": stage.error,
            "createdAt": iso_utc(self.created_at),
            "startedAt": iso_utc(stage.started_at) if stage.started_at is not None else None,
            "completedAt": iso_utc(stage.completed_at) if stage.completed_at is not None else None,
            "hasWeights": ready,
            "triggerWord": self.trigger_word,
        }
