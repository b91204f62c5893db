"""
Follow-up actions: which earlier job each Midjourney or Suno action may act on, and which of its files.

The spec answers 409 "when the action is not available for the parent job". The emulator's reading:

- the parent (``parentJobId``) must be one of the team's jobs, and COMPLETED;
- Midjourney: ``upsample`` and ``variation`` act on a grid, the four images of a ``midjourney*`` generation
  or of a ``variation``/``inpaint``/``outpaint``/``pan`` (each makes a new grid), ``index`` picking the
  image; ``inpaint``, ``outpaint`` and ``pan`` act on an ``upsample``'s single image;
- Suno: every action acts on a track of a ``suno`` generation or of an ``extend``/``cover``/``add_vocals``
  (each makes a new pair of songs), picked by ``index`` (1-2, default 1) or ``trackId``; a ``stems``
  job's two files accept no further actions. A track's id is its file's name on the CDN without the
  extension (``<job id>-1``), the last segment of its URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from .jobs import Job, JobStatus
from .recipes import MediaFile
from .validation import InvalidSubmission, Submission

MIDJOURNEY_ACTIONS = "/v2/images/midjourney/action"
SUNO_ACTIONS = "/v2/music/suno/action"
IMAGE_GENERATION = "/v2/images/generate"
MUSIC_GENERATION = "/v2/music/generate"
GRID_SIZE = 4
# The actions that act on a grid, and those that make one (which can be acted on again).
GRID_ACTIONS = ("upsample", "variation")
GRID_MAKING_ACTIONS = ("variation", "inpaint", "outpaint", "pan")
# The Suno actions that make a new pair of songs; "stems" makes two plain files.
SONG_MAKING_ACTIONS = ("extend", "cover", "add_vocals")


class ActionRefused(Exception):
    """The 409 answer: the action is not available for the parent job, and why."""


@dataclass(frozen=True)
class Parent:
    """The job an action acts on, and the file of it the action picked (None where it acts on the whole)."""

    job: Job
    file: MediaFile | None


def _is_grid(job: Job) -> bool:
    if job.operation == IMAGE_GENERATION:
        return job.model.startswith("midjourney") and len(job.deliverable.files) == GRID_SIZE
    return job.operation == MIDJOURNEY_ACTIONS and job.action in GRID_MAKING_ACTIONS


def _has_songs(job: Job) -> bool:
    if job.operation == MUSIC_GENERATION:
        return job.model == "suno"
    return job.operation == SUNO_ACTIONS and job.action in SONG_MAKING_ACTIONS


def _completed(parent: Job | None, parent_id: str, now: float) -> Job:
    if parent is None:
        raise ActionRefused(f"Parent job {parent_id} not found")
    status = parent.progress_at(now).status
    if status is not JobStatus.COMPLETED:
        raise ActionRefused(f"Parent job {parent.id} is {status.value}, not COMPLETED")
    return parent


def _midjourney_parent(action: str, submission: Submission, parent: Job) -> Parent:
    if action in GRID_ACTIONS:
        if not _is_grid(parent):
            raise ActionRefused(f"Action '{action}' needs a Midjourney grid job as its parent")
        index = int(submission.params["index"])
        return Parent(parent, parent.deliverable.files[index - 1])
    if parent.operation != MIDJOURNEY_ACTIONS or parent.action != "upsample":
        raise ActionRefused(f"Action '{action}' needs a Midjourney upsample job as its parent")
    return Parent(parent, parent.deliverable.files[0])


def _suno_parent(action: str, submission: Submission, parent: Job) -> Parent:
    if not _has_songs(parent):
        raise ActionRefused(f"Action '{action}' needs a Suno song job as its parent")
    track_id = submission.params.get("trackId")
    if track_id is not None:
        file = next((f for f in parent.deliverable.files if f"{parent.id}-{f.label}" == track_id), None)
        if file is None:
            raise ActionRefused(f"Track {track_id} not found on parent job {parent.id}")
    else:
        file = parent.deliverable.files[int(submission.params.get("index", 1)) - 1]
    continue_at = submission.params.get("continueAt")
    length = getattr(file.recipe, "seconds", 0.0)
    if action == "extend" and continue_at is not None and continue_at >= length:
        raise InvalidSubmission(
            "Validation failed",
            {"continueAt": [f"Number must be less than the track's duration ({length:g} s)"]},
        )
    return Parent(parent, file)


def choose_parent(submission: Submission, parent: Job | None, now: float) -> Parent:
    """Check that the action may act on ``parent`` and pick its file; :class:`ActionRefused` if not."""
    parent_id = submission.parent_job_id or ""
    action = submission.model.id
    job = _completed(parent, parent_id, now)
    if submission.operation == MIDJOURNEY_ACTIONS:
        return _midjourney_parent(action, submission, job)
    if submission.operation == SUNO_ACTIONS:
        return _suno_parent(action, submission, job)
    return Parent(job, None)
