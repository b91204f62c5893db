"""The emulator's clock: a base time source plus a forward offset set by tests."""

from __future__ import annotations

from collections.abc import Callable


class Clock:
    """Wall-clock seconds that tests can push forward, so jobs finish or expire without sleeping."""

    def __init__(self, base: Callable[[], float]) -> None:
        self._base = base
        self._offset = 0.0

    def now(self) -> float:
        """Return the emulator's time: the base time plus every advance."""
        return self._base() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``; it never moves back but by a reset."""
        if seconds < 0:
            raise ValueError("the emulator's clock only moves forward")
        self._offset += seconds

    def rewind_offset(self) -> None:
        """Forget every advance (used by reset)."""
        self._offset = 0.0
