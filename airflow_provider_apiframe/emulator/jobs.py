"""A job and how it advances: derived lazily from the clock, no background tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any

from .catalogue import OPERATIONS
from .progress import QUEUED_SHARE, progress_value
from .recipes import NOTHING, Deliverable, MediaFile
from .validation import Submission

FAILURE_MESSAGE = "Generation failed: content policy violation (emulated)"


class JobStatus(StrEnum):
    """A job's status, as the API names it."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Scenario(Enum):
    """How a job ends, chosen by a marker in its prompt so tests can ask for failures."""

    SUCCEED = None
    FAIL = "[fail]"
    CANCEL = "[cancel]"
    NEVER_END = "[never]"

    @classmethod
    def from_prompt(cls, prompt: str) -> Scenario:
        """Read the scenario from the first marker the prompt holds; none means the job succeeds."""
        for scenario in (cls.FAIL, cls.CANCEL, cls.NEVER_END):
            if scenario.value in prompt:
                return scenario
        return cls.SUCCEED


_FINAL_STATUS = {
    Scenario.SUCCEED: JobStatus.COMPLETED,
    Scenario.FAIL: JobStatus.FAILED,
    Scenario.CANCEL: JobStatus.CANCELLED,
}


@dataclass(frozen=True)
class Progress:
    """Where a job stands at one moment: its status, its progress, and when it ended if it has."""

    status: JobStatus
    progress: int | None
    ended_at: float | None


def iso_utc(timestamp: float) -> str:
    """ISO-8601 in UTC with milliseconds and a ``Z``, as JavaScript's ``toISOString`` writes it."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Job:
    """A submitted job: what it asked, when it began and how long it takes; its state follows from those."""

    id: str
    team_id: str
    submission: Submission
    created_at: float
    duration: float
    cost: int
    queued_share: float = QUEUED_SHARE
    shape: str = "linear"
    fails: bool = False
    # The job's model as the API reports it: for a follow-up action, its parent's model.
    model_id: str = ""
    # The files the job returns once COMPLETED.
    deliverable: Deliverable = NOTHING

    @property
    def model(self) -> str:
        """Return the model the API reports for the job."""
        return self.model_id or self.submission.model.id

    @property
    def operation(self) -> str:
        """Return the endpoint the job was submitted to."""
        return self.submission.operation

    @property
    def action(self) -> str | None:
        """Return the follow-up action the job runs (``upsample``, ``extend``...), None for any other job."""
        return self.submission.model.id if OPERATIONS[self.operation].is_action else None

    @property
    def scenario(self) -> Scenario:
        """How the job ends: as its prompt asks, else failed where the failure rate picked it."""
        scenario = Scenario.from_prompt(self.submission.prompt)
        return Scenario.FAIL if scenario is Scenario.SUCCEED and self.fails else scenario

    @property
    def ends_at(self) -> float | None:
        """When the job ends; None for one that never does."""
        if self.scenario is Scenario.NEVER_END:
            return None
        return self.created_at + self.duration

    @property
    def file_names(self) -> tuple[str, ...]:
        """The names of the job's files on the CDN: ``<job id>-<label>.<extension>``."""
        return tuple(file.name(self.id) for file in self.deliverable.files)

    @property
    def image_names(self) -> tuple[str, ...]:
        """The names of the job's images on the CDN (none for a video or audio job)."""
        return self.file_names if self.deliverable.kind == "images" else ()

    def media_file(self, name: str) -> MediaFile | None:
        """Return the job's file of that CDN name, if it has one."""
        return next((file for file in self.deliverable.files if file.name(self.id) == name), None)

    def progress_at(self, now: float) -> Progress:
        """Return where the job stands at ``now``: QUEUED, then PROCESSING, then its final status."""
        elapsed = now - self.created_at
        ends_at = self.ends_at
        reports = self.shape != "none"
        if ends_at is not None and now >= ends_at:
            final = _FINAL_STATUS[self.scenario]
            return Progress(final, 100 if final is JobStatus.COMPLETED and reports else None, ends_at)
        queued_for = self.duration * self.queued_share
        if elapsed < queued_for:
            return Progress(JobStatus.QUEUED, 0 if reports else None, None)
        processing_for = self.duration - queued_for
        share = (elapsed - queued_for) / processing_for if processing_for > 0 else 1.0
        return Progress(JobStatus.PROCESSING, progress_value(self.shape, share), None)

    def is_expired(self, now: float, retention: float) -> bool:
        """Whether a completed job's CDN files have been purged."""
        state = self.progress_at(now)
        return (
            state.status is JobStatus.COMPLETED
            and state.ended_at is not None
            and now >= state.ended_at + retention
        )

    def result(self, cdn_root: str) -> dict[str, list[str]]:
        """Return the job's result: its files' URLs under their kind (``images``, ``videos``, ``audio``)."""
        kind = self.deliverable.kind
        return {kind: [f"{cdn_root}/{kind}/{name}" for name in self.file_names]}

    def to_json(self, now: float, retention: float, cdn_root: str) -> dict[str, Any]:
        """Return the job as ``GET /v2/jobs/{id}`` answers it; ``cdn_root`` is where the CDN's folders are."""
        state = self.progress_at(now)
        completed = state.status is JobStatus.COMPLETED
        return {
            "id": self.id,
            "status": state.status.value,
            "model": self.model,
            "progress": state.progress,
            "error": FAILURE_MESSAGE if state.status is JobStatus.FAILED else None,
            "creditCost": self.cost,
            "webhookStatus": None,
            "createdAt": iso_utc(self.created_at),
            "completedAt": iso_utc(state.ended_at) if state.ended_at is not None else None,
            "result": self.result(cdn_root) if completed else None,
            "expired": self.is_expired(now, retention),
            "input": self.submission.body,
        }
