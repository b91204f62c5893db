"""Settings of one emulator instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .progress import MIXED, QUEUED_SHARE_RANGE, SHAPES

RetryAfterFormat = Literal["seconds", "http-date"]

DEFAULT_API_KEY = "afk_test_emulator_key"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything an emulator instance can be told; the defaults mimic the real service."""

    host: str = "127.0.0.1"
    port: int = 0
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    # Keys that exist but are switched off: they get 403, unknown keys get 401.
    inactive_keys: tuple[str, ...] = ()
    # Keys of a second team: valid, but they see only that team's jobs and LoRAs (another
    # team's are "not found"), and spend a balance of their own (``credits`` to start with).
    other_team_keys: tuple[str, ...] = ()
    # The median length of an image job; with duration_sigma > 0 each job's is drawn lognormal around it.
    job_duration: float = 2.0
    # Videos take minutes in production and songs about one: a video job's median is job_duration times
    # video_duration_factor (20 s by default), a music job's job_duration times music_duration_factor.
    video_duration_factor: float = 10.0
    music_duration_factor: float = 5.0
    # A LoRA training takes minutes to an hour in production: its median here is job_duration times
    # lora_duration_factor (10 s by default), drawn lognormal like a job's with duration_sigma.
    lora_duration_factor: float = 5.0
    # How many of a team's LoRA trainings may be in flight (PENDING, UPLOADING or TRAINING) at once;
    # one more is answered 429 with a Retry-After.
    lora_training_cap: int = 2
    duration_sigma: float = 0.0
    # With duration_sigma > 0, the share of each job's life spent QUEUED is drawn uniformly from this range
    # (a busier service queues longer, and by more varied amounts).
    queued_share_range: tuple[float, float] = QUEUED_SHARE_RANGE
    # One of progress.SHAPES, or "mixed" for a shape drawn per job.
    progress_shape: str = "linear"
    # The share of jobs that end FAILED whatever their prompt (credits refunded).
    job_failure_rate: float = 0.0
    credits: int = 1000
    retention: float = 86400.0
    # How long an upload is served after it was made (the vendor keeps them about one to two hours).
    upload_ttl: float = 3600.0
    idempotency_ttl: float = 86400.0
    rate_limit_per_minute: int | None = None
    retry_after_format: RetryAfterFormat = "seconds"
    error_rate: float = 0.0
    drop_rate: float = 0.0
    malformed_rate: float = 0.0
    latency: float = 0.0
    # Every Nth successful submit answer is lost after the job exists (0: none).
    lose_submit_answer_every: int = 0
    # Every outage_every seconds, the API answers 503 to everything for outage_length seconds.
    outage_every: float = 0.0
    outage_length: float = 0.0
    seed: int | None = None
    # The emulator's notion of "now"; tests swap it to move time without sleeping.
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    @property
    def valid_keys(self) -> tuple[str, ...]:
        """Return every key the API accepts: the first team's, then the second team's."""
        return (*self.api_keys, *self.other_team_keys)

    def __post_init__(self) -> None:
        # Tuples are required for hashing/freezing, but a list is an easy mistake from callers.
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        object.__setattr__(self, "inactive_keys", tuple(self.inactive_keys))
        object.__setattr__(self, "other_team_keys", tuple(self.other_team_keys))
        object.__setattr__(self, "queued_share_range", tuple(self.queued_share_range))
        if not self.api_keys:
            raise ValueError("api_keys must hold at least one key")
        if set(self.api_keys) & set(self.other_team_keys):
            raise ValueError("a key cannot belong to both teams (api_keys and other_team_keys)")
        for name in ("error_rate", "drop_rate", "malformed_rate", "job_failure_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if self.error_rate + self.drop_rate + self.malformed_rate > 1.0:
            raise ValueError("error_rate + drop_rate + malformed_rate must not exceed 1")
        if self.retry_after_format not in ("seconds", "http-date"):
            raise ValueError(
                f"retry_after_format must be 'seconds' or 'http-date', got {self.retry_after_format!r}"
            )
        if self.rate_limit_per_minute is not None and self.rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1 (or None for no limit)")
        if self.progress_shape not in (*SHAPES, MIXED):
            raise ValueError(
                f"progress_shape must be one of {', '.join((*SHAPES, MIXED))}, got {self.progress_shape!r}"
            )
        low, high = self.queued_share_range
        if not 0.0 <= low <= high < 1.0:
            raise ValueError(f"queued_share_range must be 0 <= low <= high < 1, got {low}, {high}")
        if self.lose_submit_answer_every < 0:
            raise ValueError("lose_submit_answer_every must not be negative")
        if self.lora_training_cap < 0:
            raise ValueError("lora_training_cap must not be negative")
        outage = self.outage_every > 0 or self.outage_length > 0
        if outage and not 0 < self.outage_length < self.outage_every:
            raise ValueError("outage_every and outage_length go together, with outage_length < outage_every")
        for name in (
            "job_duration",
            "video_duration_factor",
            "music_duration_factor",
            "lora_duration_factor",
            "duration_sigma",
            "retention",
            "upload_ttl",
            "idempotency_ttl",
            "latency",
            "outage_every",
            "outage_length",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.credits < 0:
            raise ValueError("credits must not be negative")
