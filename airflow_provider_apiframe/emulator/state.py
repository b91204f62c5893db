"""What the emulator remembers: jobs, uploads, idempotency keys, the credit balance and counters."""

from __future__ import annotations

import bisect
import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .actions import Parent, choose_parent
from .clock import Clock
from .config import EmulatorConfig
from .jobs import Job, JobStatus, Scenario
from .planning import plan_deliverable
from .progress import CoursePlanner
from .recipes import PictureRecipe, VideoRecipe
from .uploads import ReceivedFile, Upload
from .validation import Submission

# Every key belongs to the one emulated team; stable ids make /v2/me answers comparable across runs.
_NAMESPACE = uuid.UUID("6f1d9a52-3c1e-4b8e-9d1a-0a7e5c2b9f40")
TEAM_ID = str(uuid.uuid5(_NAMESPACE, "team"))
USER_ID = str(uuid.uuid5(_NAMESPACE, "user"))


def api_key_id(key: str) -> str:
    """Return the id ``GET /v2/me`` gives a key: the same for the same key in every run."""
    return str(uuid.uuid5(_NAMESPACE, f"key:{key}"))


class InsufficientCredits(Exception):
    """The balance cannot pay for a submit: what it needs and what the team has."""

    def __init__(self, required: int, available: int) -> None:
        super().__init__(f"Insufficient credits: {required} required, {available} available")
        self.required = required
        self.available = available


@dataclass
class Counters:
    """What the emulator has seen and done, for tests to assert on."""

    jobs_created: int = 0
    idempotent_replays: int = 0
    submits: int = 0
    polls: int = 0
    list_requests: int = 0
    uploads: int = 0
    accepted_submits: int = 0
    dropped_connections: int = 0
    responses_by_status: Counter[str] = field(default_factory=Counter)
    # Answers per key, named by the first 12 hex digits of the key's sha256 (the key itself is secret).
    requests_by_key: Counter[str] = field(default_factory=Counter)


def key_digest(key: str) -> str:
    """Name a key in the counters without the key itself: the first 12 hex digits of its sha256."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


# A job's place in GET /v2/jobs: newest first, by (createdAt, id), both descending.
Position = tuple[float, str]


@dataclass(frozen=True)
class Accepted:
    """A submit's outcome: the job, and whether it was an idempotent replay of an earlier submit."""

    job: Job
    replayed: bool


class EmulatorState:
    """The emulated team's jobs, idempotency keys, balance and counters."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        """Forget every job, key and counter, and start from the configured balance."""
        self.jobs: dict[str, Job] = {}
        self.uploads: dict[str, Upload] = {}
        # Every job's position, ascending, so that a page is a walk down from a cursor.
        self._positions: list[Position] = []
        self._courses = CoursePlanner(
            self.config.job_duration,
            self.config.duration_sigma,
            self.config.progress_shape,
            self.config.seed,
            self.config.job_failure_rate,
        )
        self.counters = Counters()
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._charged = 0
        self._refunded = 0
        # Jobs bound to fail whose refund has not been booked yet.
        self._refunds_due: list[Job] = []

    def _settle(self) -> None:
        # Refunds are booked when a failing job's end time has passed, whether or not anyone polled it.
        now = self.clock.now()
        still_due = []
        for job in self._refunds_due:
            if job.progress_at(now).status is JobStatus.FAILED:
                self._refunded += job.cost
            else:
                still_due.append(job)
        self._refunds_due = still_due

    @property
    def balance(self) -> int:
        """The team's credits: the starting balance less charges, plus the refunds of failed jobs."""
        self._settle()
        return self.config.credits - self._charged + self._refunded

    @property
    def credits_charged(self) -> int:
        """Net of refunds."""
        self._settle()
        return self._charged - self._refunded

    def _replay(self, team_id: str, key: str | None) -> Job | None:
        if key is None:
            return None
        stored = self._idempotency.get((team_id, key))
        if stored is None:
            return None
        job_id, stored_at = stored
        if self.clock.now() - stored_at >= self.config.idempotency_ttl:
            del self._idempotency[(team_id, key)]
            return None
        return self.jobs[job_id]

    def _duration_scale(self, submission: Submission) -> float:
        # Videos take minutes in production and songs about one: their medians are the image jobs' times
        # the configured factors.
        modality = submission.model.modality
        if modality == "video":
            return self.config.video_duration_factor
        if modality == "music":
            return self.config.music_duration_factor
        return 1.0

    def _parent(self, submission: Submission, team_id: str) -> Parent | None:
        parent_id = submission.parent_job_id
        if parent_id is None:
            return None
        return choose_parent(submission, self.find_job(parent_id, team_id), self.clock.now())

    def submit(self, submission: Submission, team_id: str, idempotency_key: str | None) -> Accepted:
        """
        Create and charge a job, or hand back the job an earlier submit with the same key made.

        Raises :class:`~.actions.ActionRefused` (409) for an action its parent does not allow, and
        :class:`InsufficientCredits` (402) when the balance cannot pay.
        """
        earlier = self._replay(team_id, idempotency_key)
        if earlier is not None:
            self.counters.idempotent_replays += 1
            return Accepted(earlier, replayed=True)
        parent = self._parent(submission, team_id)
        cost = submission.credit_cost
        available = self.balance
        if available < cost:
            raise InsufficientCredits(cost, available)
        now = self.clock.now()
        course = self._courses.plan(submission.prompt, self._duration_scale(submission))
        job_id = str(uuid.uuid4())
        job = Job(
            id=job_id,
            team_id=team_id,
            submission=submission,
            created_at=now,
            duration=course.duration,
            cost=cost,
            queued_share=course.queued_share,
            shape=course.shape,
            fails=course.fails,
            model_id=parent.job.model if parent is not None else submission.model.id,
            deliverable=plan_deliverable(submission, job_id, parent, self.input_size, self.input_video),
        )
        self.jobs[job.id] = job
        bisect.insort(self._positions, (job.created_at, job.id))
        self._charged += cost
        if job.scenario is Scenario.FAIL:
            self._refunds_due.append(job)
        if idempotency_key is not None:
            self._idempotency[(team_id, idempotency_key)] = (job.id, now)
        self.counters.jobs_created += 1
        return Accepted(job, replayed=False)

    def input_size(self, url: str) -> tuple[int, int] | None:
        """Return the pixel size of an input image the emulator serves itself (an upload, a job's image)."""
        folder, _, name = urlsplit(url).path.rpartition("/")
        if folder.endswith("/cdn/uploads"):
            upload = self.find_upload(name)
            return upload.pixel_size if upload is not None else None
        if folder.endswith("/cdn/images"):
            job = self.jobs.get(name[:36])
            file = job.media_file(name) if job is not None else None
            if file is not None and isinstance(file.recipe, PictureRecipe):
                return file.recipe.width, file.recipe.height
        return None

    def input_video(self, url: str) -> VideoRecipe | None:
        """Return how a job's video the emulator serves itself was made (its size and length); None else."""
        folder, _, name = urlsplit(url).path.rpartition("/")
        if not folder.endswith("/cdn/videos"):
            return None
        job = self.jobs.get(name[:36])
        file = job.media_file(name) if job is not None else None
        return file.recipe if file is not None and isinstance(file.recipe, VideoRecipe) else None

    def add_upload(self, received: ReceivedFile, team_id: str, pixel_size: tuple[int, int] | None) -> Upload:
        """Store an upload until it expires (``upload_ttl`` from now); expired ones are dropped meanwhile."""
        now = self.clock.now()
        self._purge_uploads(now)
        upload = Upload(
            id=str(uuid.uuid4()),
            team_id=team_id,
            type=received.type,
            data=received.data,
            created_at=now,
            expires_at=now + self.config.upload_ttl,
            pixel_size=pixel_size,
        )
        self.uploads[upload.id] = upload
        self.counters.uploads += 1
        return upload

    def find_upload(self, name: str) -> Upload | None:
        """Return the upload of that CDN name (``<id>.<extension>``) while it lives; None once it expired."""
        upload = self.uploads.get(name.partition(".")[0].lower())
        if upload is None or upload.name != name:
            return None
        if self.clock.now() >= upload.expires_at:
            del self.uploads[upload.id]
            return None
        return upload

    def _purge_uploads(self, now: float) -> None:
        for upload_id in [key for key, upload in self.uploads.items() if now >= upload.expires_at]:
            del self.uploads[upload_id]

    def find_job(self, job_id: str, team_id: str) -> Job | None:
        """Return the job, if it exists and belongs to the team (another team's job is as good as unknown)."""
        job = self.jobs.get(job_id)
        return job if job is not None and job.team_id == team_id else None

    def jobs_from(self, team_id: str, after: Position | None) -> Iterator[Job]:
        """Yield the team's jobs newest first, starting after ``after`` (a cursor's position) if given."""
        start = len(self._positions) if after is None else bisect.bisect_left(self._positions, after)
        for index in range(start - 1, -1, -1):
            job = self.jobs[self._positions[index][1]]
            if job.team_id == team_id:
                yield job

    def list_jobs(
        self, team_id: str, after: Position | None, limit: int, keep: Callable[[Job], bool]
    ) -> tuple[list[Job], bool]:
        """Return a page of at most ``limit`` jobs that ``keep`` accepts, and whether more follow."""
        page: list[Job] = []
        for job in self.jobs_from(team_id, after):
            if keep(job):
                if len(page) == limit:
                    return page, True
                page.append(job)
        return page, False

    def stats(self) -> dict[str, Any]:
        """Return the counters and the credits charged and left, as ``GET /_emulator/stats`` answers them."""
        counters = self.counters
        return {
            "jobs_created": counters.jobs_created,
            "idempotent_replays": counters.idempotent_replays,
            "submits": counters.submits,
            "polls": counters.polls,
            "list_requests": counters.list_requests,
            "uploads": counters.uploads,
            "responses_by_status": dict(counters.responses_by_status),
            "requests_by_key": dict(counters.requests_by_key),
            "dropped_connections": counters.dropped_connections,
            "credits_charged": self.credits_charged,
            "credits_balance": self.balance,
        }
