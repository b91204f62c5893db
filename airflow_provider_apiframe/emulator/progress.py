"""How long each job takes and how its progress advances: production's variety, seeded."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

# Progress over the PROCESSING phase, x in [0, 1): as production shows it, not only a straight line.
SHAPES = ("linear", "front", "back", "steps", "stall", "none")
MIXED = "mixed"
QUEUED_SHARE = 0.2
# With varied durations, the share of a job's life spent QUEUED varies too.
QUEUED_SHARE_RANGE = (0.1, 0.3)

_SHAPE_MARKER = re.compile(r"\[progress:([a-z]+)\]")
_DURATION_MARKER = re.compile(r"\[duration:([0-9]+(?:\.[0-9]+)?)\]")
# The first job of a prompt with this marker fails, the next ones of the same prompt do not.
FAIL_FIRST_MARKER = "[fail-first]"


def progress_value(shape: str, x: float) -> int | None:
    """Return the progress a job of ``shape`` reports ``x`` of the way through PROCESSING: 0-99, or None."""
    if shape == "none":
        return None
    x = min(max(x, 0.0), 1.0)
    if shape == "front":
        value = 100 * (1 - (1 - x) ** 3)
    elif shape == "back":
        value = 100 * x**2
    elif shape == "steps":
        value = 25 * math.floor(4 * x)
    elif shape == "stall":
        value = 200 * x
    else:
        value = 100 * x
    return min(99, int(value))


@dataclass(frozen=True)
class Course:
    """How one job advances: its length, the share of it spent QUEUED, and its progress shape."""

    duration: float
    queued_share: float = QUEUED_SHARE
    shape: str = "linear"
    # Ends FAILED although its prompt asks for nothing of the kind: production's unexplained failures.
    fails: bool = False


class CoursePlanner:
    """Draws each new job's course from the emulator's settings, with a seed of its own."""

    def __init__(
        self,
        median: float,
        sigma: float,
        shape: str,
        seed: int | None,
        failure_rate: float = 0.0,
        stream: str = "courses",
        queued_share_range: tuple[float, float] = QUEUED_SHARE_RANGE,
    ) -> None:
        self.median = median
        self.sigma = sigma
        self.shape = shape
        self.failure_rate = failure_rate
        self.queued_share_range = queued_share_range
        self._failed_first: set[str] = set()
        # Separate from the fault generator: adding a fault must not change the jobs' lengths. Each
        # ``stream`` draws from a generator of its own (LoRA trainings do not shift the jobs' draws).
        self._random = random.Random(None if seed is None else f"{stream}-{seed}")

    def plan(self, prompt: str, scale: float = 1.0) -> Course:
        """
        Draw the course of a new job; markers in its prompt fix its duration, shape or first failure.

        ``scale`` multiplies the median: a video or a song takes longer than an image.
        """
        varied = self.sigma > 0
        median = self.median * scale
        duration = median
        if varied and median > 0:
            duration = self._random.lognormvariate(math.log(median), self.sigma)
        queued = self._random.uniform(*self.queued_share_range) if varied else QUEUED_SHARE
        shape = self._random.choice(SHAPES) if self.shape == MIXED else self.shape
        fixed_duration = _DURATION_MARKER.search(prompt)
        if fixed_duration:
            duration = float(fixed_duration.group(1))
        fixed_shape = _SHAPE_MARKER.search(prompt)
        if fixed_shape and fixed_shape.group(1) in SHAPES:
            shape = fixed_shape.group(1)
        fails = self.failure_rate > 0 and self._random.random() < self.failure_rate
        if FAIL_FIRST_MARKER in prompt:
            fails = prompt not in self._failed_first
            self._failed_first.add(prompt)
        return Course(duration, queued, shape, fails)
