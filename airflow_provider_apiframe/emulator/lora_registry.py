"""
The LoRAs the emulator holds: created, found, paged newest first, counted in flight.

``GET /v2/loras`` pages by a ``cursor`` that is a LoRA's id (the spec makes it a uuid): the page starts
after that LoRA, whatever the filter, so a page stays right when newer LoRAs arrive meanwhile; an id the
team has no LoRA of gives an empty page (what a database cursor on a missing row gives).
"""

from __future__ import annotations

import bisect
import uuid
from collections import Counter
from collections.abc import Iterator

from .lora_form import LoraForm
from .loras import Lora, LoraStatus, trigger_word
from .progress import CoursePlanner
from .teams import Team

# A LoRA's place in the listing: newest first by (createdAt, order of creation), both descending.
LoraPosition = tuple[float, int]
# The Retry-After of a full in-flight cap when no training in flight will ever end ([never]).
CAP_RETRY_FALLBACK = 60.0


class LoraRegistry:
    """Every team's LoRAs, with the course planner that draws each new training's length and fate."""

    def __init__(self, planner: CoursePlanner, scale: float) -> None:
        self._planner = planner
        self._scale = scale
        self.loras: dict[str, Lora] = {}
        # Every LoRA's position, ascending, so that a page is a walk down from a cursor.
        self._positions: list[tuple[LoraPosition, str]] = []

    def create(self, form: LoraForm, team: Team, now: float) -> Lora:
        """Create a LoRA for ``team`` at ``now``: its training's length and fate drawn from its name."""
        course = self._planner.plan(form.name, self._scale)
        lora_id = str(uuid.uuid4())
        lora = Lora(
            id=lora_id,
            team=team,
            form=form,
            serial=len(self._positions),
            created_at=now,
            duration=course.duration,
            pending_share=course.queued_share,
            fails=course.fails,
            trigger_word=trigger_word(form.name, lora_id),
        )
        self.loras[lora_id] = lora
        bisect.insort(self._positions, ((now, lora.serial), lora_id))
        return lora

    def find(self, lora_id: str, team_id: str) -> Lora | None:
        """Return the team's LoRA of that id (any case); None for an unknown id or another team's LoRA."""
        lora = self.loras.get(lora_id.lower())
        return lora if lora is not None and lora.team.id == team_id else None

    def _newest_first(self, team_id: str, after: LoraPosition | None) -> Iterator[Lora]:
        start = len(self._positions)
        if after is not None:
            start = bisect.bisect_left(self._positions, (after, ""))
        for index in range(start - 1, -1, -1):
            lora = self.loras[self._positions[index][1]]
            if lora.team.id == team_id:
                yield lora

    def page(
        self, team_id: str, cursor: str | None, limit: int, include_archived: bool, now: float
    ) -> tuple[list[Lora], bool]:
        """
        Return up to ``limit`` of the team's LoRAs after ``cursor`` (an id), newest first, and if more follow.

        Archived LoRAs are left out unless ``include_archived``.
        """
        after = None
        if cursor is not None:
            start = self.find(cursor, team_id)
            if start is None:
                return [], False
            after = (start.created_at, start.serial)
        page: list[Lora] = []
        for lora in self._newest_first(team_id, after):
            if not include_archived and lora.stage_at(now).status is LoraStatus.ARCHIVED:
                continue
            if len(page) == limit:
                return page, True
            page.append(lora)
        return page, False

    def in_flight(self, team_id: str, now: float) -> list[Lora]:
        """Return the team's trainings under way at ``now``."""
        return [lora for lora in self.loras.values() if lora.team.id == team_id and lora.in_flight(now)]

    def cap_wait(self, team_id: str, now: float, cap: int) -> float | None:
        """Return None if the team may start a training now, else the seconds until one in flight ends."""
        flying = self.in_flight(team_id, now)
        if len(flying) < cap:
            return None
        ends = [lora.ends_at for lora in flying if lora.ends_at is not None]
        return min(ends) - now if ends else CAP_RETRY_FALLBACK

    def statuses(self, now: float) -> Counter[str]:
        """Count every team's LoRAs by their status at ``now``."""
        return Counter(lora.stage_at(now).status.value for lora in self.loras.values())
