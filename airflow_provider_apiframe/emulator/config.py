"""Settings of one emulator instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

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
    job_duration: float = 2.0
    credits: int = 1000
    retention: float = 86400.0
    idempotency_ttl: float = 86400.0
    rate_limit_per_minute: int | None = None
    retry_after_format: RetryAfterFormat = "seconds"
    error_rate: float = 0.0
    drop_rate: float = 0.0
    malformed_rate: float = 0.0
    latency: float = 0.0
    seed: int | None = None
    # The emulator's notion of "now"; tests swap it to move time without sleeping.
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Tuples are required for hashing/freezing, but a list is an easy mistake from callers.
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        object.__setattr__(self, "inactive_keys", tuple(self.inactive_keys))
        if not self.api_keys:
            raise ValueError("api_keys must hold at least one key")
        for name in ("error_rate", "drop_rate", "malformed_rate"):
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
        for name in ("job_duration", "retention", "idempotency_ttl", "latency"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.credits < 0:
            raise ValueError("credits must not be negative")
