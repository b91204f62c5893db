"""Test controls the real API lacks: counters, scripted faults, reset and the clock, under /_emulator/."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from .clock import Clock
from .faults import FaultInjector, FaultRule
from .ratelimit import SlidingWindowLimiter
from .responses import error_response
from .state import EmulatorState


class Controls:
    """The control operations, shared by the HTTP endpoints and :class:`EmulatorServer`'s methods."""

    def __init__(
        self, state: EmulatorState, faults: FaultInjector, limiter: SlidingWindowLimiter, clock: Clock
    ) -> None:
        self.state = state
        self.faults = faults
        self.limiter = limiter
        self.clock = clock

    def stats(self) -> dict[str, Any]:
        """Return the emulator's counters, as ``GET /_emulator/stats`` answers them."""
        return self.state.stats()

    def add_faults(self, rules: Iterable[Mapping[str, Any]]) -> int:
        """Append scripted rules (all or none, if one is invalid); returns how many are pending."""
        parsed = [FaultRule.from_json(rule) for rule in rules]
        self.faults.add(parsed)
        return len(self.faults.rules)

    def reset(self) -> None:
        """Back to a freshly started emulator: no jobs, counters or rules, full balance, true time."""
        self.state.reset()
        self.faults.reset()
        self.limiter.reset()
        self.clock.rewind_offset()

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward by ``seconds``; return its new time."""
        self.clock.advance(seconds)
        return self.clock.now()


CONTROLS = web.AppKey("controls", Controls)
CONTROL_PREFIX = "/_emulator/"


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ValueError("body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[CONTROLS].stats())


async def _add_faults(request: web.Request) -> web.Response:
    try:
        rules = (await _json_object(request)).get("rules")
        if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
            raise ValueError("'rules' must be a list of objects")
        pending = request.app[CONTROLS].add_faults(rules)
    except (ValueError, TypeError) as exc:
        return error_response(400, str(exc))
    return web.json_response({"pending_rules": pending})


async def _reset(request: web.Request) -> web.Response:
    request.app[CONTROLS].reset()
    return web.json_response({"reset": True})


async def _advance_clock(request: web.Request) -> web.Response:
    try:
        seconds = (await _json_object(request)).get("advance")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError("'advance' must be a number of seconds")
        now = request.app[CONTROLS].advance_clock(seconds)
    except ValueError as exc:
        return error_response(400, str(exc))
    return web.json_response({"now": now})


CONTROL_ROUTES = [
    web.get(f"{CONTROL_PREFIX}stats", _stats),
    web.post(f"{CONTROL_PREFIX}faults", _add_faults),
    web.post(f"{CONTROL_PREFIX}reset", _reset),
    web.post(f"{CONTROL_PREFIX}clock", _advance_clock),
]
