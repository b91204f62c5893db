"""What the emulator remembers: jobs, uploads, LoRAs, idempotency keys, each team's balance and counters."""

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
from .lora_form import LoraForm
from .lora_registry import LoraRegistry
from .loras import LORA_CREDIT_COST, Lora, LoraStatus
from .planning import plan_deliverable
from .progress import CoursePlanner
from .recipes import PictureRecipe, VideoRecipe
from .teams import TEAM_ID, USER_ID, Team, api_key_id
from .uploads import ReceivedFile, Upload
from .validation import InvalidSubmission, Submission

__all__ = ["TEAM_ID", "USER_ID", "EmulatorState", "InsufficientCredits", "TrainingCapReached", "api_key_id"]

# The parameter of an image model's block that names a LoRA to generate with (flux-lora's).
LORA_ID_PARAM = "loraId"


class InsufficientCredits(Exception):
    """The balance cannot pay for a submit: what it needs and what the team has."""

    def __init__(self, required: int, available: int) -> None:
        super().__init__(f"Insufficient credits: {required} required, {available} available")
        self.required = required
        self.available = available


class TrainingCapReached(Exception):
    """The team has as many LoRA trainings in flight as it may: how many, and when one ends."""

    def __init__(self, cap: int, retry_after: float) -> None:
        super().__init__(f"Too many LoRA trainings in flight: at most {cap} at once")
        self.cap = cap
        self.retry_after = retry_after


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
    loras_created: int = 0
    # LoRA trainings refused because the team's in-flight cap was reached.
    lora_cap_refusals: int = 0
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
        """Forget every job, upload, LoRA, key and counter; start each team from the configured balance."""
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
            queued_share_range=self.config.queued_share_range,
        )
        self.loras = LoraRegistry(
            CoursePlanner(
                self.config.job_duration,
                self.config.duration_sigma,
                "linear",
                self.config.seed,
                self.config.job_failure_rate,
                stream="loras",
            ),
            self.config.lora_duration_factor,
        )
        self.counters = Counters()
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        # Credits charged and refunded, by team.
        self._charged: Counter[str] = Counter()
        self._refunded: Counter[str] = Counter()
        # Jobs and LoRA trainings bound to fail whose refund has not been booked yet.
        self._refunds_due: list[Job] = []
        self._lora_refunds_due: list[Lora] = []

    def _settle(self) -> None:
        # Refunds are booked when a failing job's (or training's) end has passed, whether or not anyone
        # polled it.
        now = self.clock.now()
        still_due = []
        for job in self._refunds_due:
            if job.progress_at(now).status is JobStatus.FAILED:
                self._refunded[job.team_id] += job.cost
            else:
                still_due.append(job)
        self._refunds_due = still_due
        loras_due = []
        for lora in self._lora_refunds_due:
            if lora.failed_by(now):
                self._refunded[lora.team.id] += lora.cost
            elif lora.archived_at is None:
                loras_due.append(lora)  # an archived training that had not failed never will
        self._lora_refunds_due = loras_due

    def balance_of(self, team_id: str) -> int:
        """Return a team's credits: the starting balance less charges, plus the refunds of failures."""
        self._settle()
        return self.config.credits - self._charged[team_id] + self._refunded[team_id]

    @property
    def balance(self) -> int:
        """The first team's credits (every key's but ``other_team_keys``')."""
        return self.balance_of(TEAM_ID)

    @property
    def credits_charged(self) -> int:
        """The first team's charges, net of refunds."""
        self._settle()
        return self._charged[TEAM_ID] - self._refunded[TEAM_ID]

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
        self._check_lora(submission, team_id)
        cost = submission.credit_cost
        available = self.balance_of(team_id)
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
        self._charged[team_id] += cost
        if job.scenario is Scenario.FAIL:
            self._refunds_due.append(job)
        if idempotency_key is not None:
            self._idempotency[(team_id, idempotency_key)] = (job.id, now)
        self.counters.jobs_created += 1
        return Accepted(job, replayed=False)

    def _check_lora(self, submission: Submission, team_id: str) -> None:
        """
        Refuse a generation with a LoRA that is not one of the team's READY LoRAs.

        The spec declares no 404 or 409 for ``POST /v2/images/generate``: its 400 (a ``ValidationError``,
        ``details`` by JSON path) is the answer it has for a body it cannot run, so the refusal is a 400 at
        ``fluxLoraParams.loraId``.
        """
        block = submission.model.params
        if LORA_ID_PARAM not in block.schemas:
            return
        lora_id = str(submission.params.get(LORA_ID_PARAM, ""))
        lora = self.loras.find(lora_id, team_id)
        if lora is None:
            problem = f"LoRA {lora_id} not found"
        else:
            status = lora.stage_at(self.clock.now()).status
            if status is LoraStatus.READY:
                return
            problem = f"LoRA {lora.id} is {status.value}, not READY"
        path = f"{block.key}.{LORA_ID_PARAM}" if block.key else LORA_ID_PARAM
        raise InvalidSubmission("Validation failed", {path: [problem]})

    def create_lora(self, form: LoraForm, team: Team) -> Lora:
        """
        Create and charge a LoRA training; no idempotency: the same form twice makes two LoRAs.

        Raises :class:`TrainingCapReached` (429) when the team has ``lora_training_cap`` trainings in
        flight, and :class:`InsufficientCredits` (402) when its balance cannot pay.
        """
        now = self.clock.now()
        cap = self.config.lora_training_cap
        wait = self.loras.cap_wait(team.id, now, cap)
        if wait is not None:
            self.counters.lora_cap_refusals += 1
            raise TrainingCapReached(cap, wait)
        available = self.balance_of(team.id)
        if available < LORA_CREDIT_COST:
            raise InsufficientCredits(LORA_CREDIT_COST, available)
        lora = self.loras.create(form, team, now)
        self._charged[team.id] += lora.cost
        if lora.scenario is Scenario.FAIL:
            self._lora_refunds_due.append(lora)
        self.counters.loras_created += 1
        return lora

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
        now = self.clock.now()
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
            "loras_created": counters.loras_created,
            "loras_training": sum(1 for lora in self.loras.loras.values() if lora.in_flight(now)),
            "loras_by_status": dict(self.loras.statuses(now)),
            "lora_cap_refusals": counters.lora_cap_refusals,
        }
