"""Fault injection: scripted rules for deterministic tests, and random faults for soak runs."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from http import HTTPStatus
from typing import Any, Literal, get_args

from aiohttp import web
from aiohttp.typedefs import Handler

from .clock import Clock
from .config import EmulatorConfig
from .responses import drop_connection, error_response, retry_after_value

Action = Literal["status", "drop_before", "drop_after", "malformed", "delay", "delay_after"]
ACTIONS: tuple[str, ...] = get_args(Action)

_ERROR_MESSAGES = {
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
}
# How often a held answer checks that its client is still there.
_HOLD_CHECK_INTERVAL = 0.05
_HTML_PAGE = "<html><head><title>{code} {phrase}</title></head><body><h1>{code} {phrase}</h1></body></html>"


@dataclass(frozen=True)
class FaultRule:
    """
    One fault for the next ``times`` requests whose method and path (a prefix) match.

    ``malformed`` with a status of 300 or more answers an HTML page without handling the
    request; below 300 the request is handled and its JSON answer is cut in half. ``delay`` waits
    ``delay`` seconds before the request is handled; ``delay_after`` handles it at once (a job or a LoRA
    exists and is paid for) and holds its answer ``delay`` seconds, less if the client goes away
    meanwhile: a client that dies or gives up has lost the answer to a request that took effect.
    """

    action: Action
    method: str = "*"
    path: str = "/"
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    times: int = 1

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FaultRule:
        """Parse a rule as ``POST /_emulator/faults`` takes it; ValueError (or TypeError) if it is invalid."""
        unknown = set(raw) - {rule_field.name for rule_field in fields(cls)}
        if unknown:
            raise ValueError(f"unknown rule keys: {sorted(unknown)}")
        action = raw.get("action")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
        rule = cls(
            action=action,
            method=str(raw.get("method", "*")).upper(),
            path=str(raw.get("path", "/")),
            status=None if raw.get("status") is None else int(raw["status"]),
            retry_after=None if raw.get("retry_after") is None else float(raw["retry_after"]),
            delay=float(raw.get("delay", 0.0)),
            times=int(raw.get("times", 1)),
        )
        if rule.times < 1:
            raise ValueError("times must be at least 1")
        if rule.status is not None and rule.status not in HTTPStatus.__members__.values():
            raise ValueError(f"status must be a known HTTP status code, got {rule.status}")
        return rule

    def matches(self, request: web.Request) -> bool:
        """Whether the rule applies to ``request``: its method, and a path under the rule's."""
        return self.method in ("*", request.method) and request.path.startswith(self.path)


class FaultInjector:
    """Decide which fault, if any, each request meets, and apply it."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        """Drop the scripted rules and start the random faults and outages afresh."""
        self.rules: list[FaultRule] = []
        self._random = random.Random(self.config.seed)
        # Outages start at a drawn phase, so that runs with different seeds meet them at other moments.
        self._outage_phase = self._random.uniform(0, self.config.outage_every)
        self._started = self.clock.now()

    def in_outage(self) -> bool:
        """Whether the API is in one of its periodic outages right now."""
        every = self.config.outage_every
        if every <= 0:
            return False
        return (self.clock.now() - self._started + self._outage_phase) % every < self.config.outage_length

    def add(self, rules: list[FaultRule]) -> None:
        """Append scripted rules, met after those already pending."""
        self.rules.extend(rules)

    def _scripted(self, request: web.Request) -> FaultRule | None:
        for index, rule in enumerate(self.rules):
            if rule.matches(request):
                if rule.times == 1:
                    del self.rules[index]
                else:
                    self.rules[index] = replace(rule, times=rule.times - 1)
                return rule
        return None

    def _random_fault(self) -> FaultRule | None:
        config = self.config
        draw = self._random.random()
        if draw < config.error_rate:
            return FaultRule("status", status=self._random.choice((500, 502, 503)))
        draw -= config.error_rate
        if draw < config.drop_rate:
            return FaultRule(self._random.choice(("drop_before", "drop_after")))
        draw -= config.drop_rate
        if draw < config.malformed_rate:
            return FaultRule("malformed", status=self._random.choice((502, 200)))
        return None

    def pick(self, request: web.Request, *, random_faults: bool) -> FaultRule | None:
        """Pick the fault for this request, if any: scripted rules first, then (if allowed) random rates."""
        rule = self._scripted(request)
        if rule is None and random_faults:
            rule = self._random_fault()
        return rule

    def _status_response(self, rule: FaultRule, status: int) -> web.Response:
        headers = {}
        retry_after = rule.retry_after if rule.retry_after is not None else (1.0 if status == 429 else None)
        if retry_after is not None:
            headers["Retry-After"] = retry_after_value(
                retry_after, self.clock.now(), self.config.retry_after_format
            )
        message = _ERROR_MESSAGES.get(status, HTTPStatus(status).phrase)
        return error_response(status, message, headers=headers)

    async def apply(self, rule: FaultRule, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer ``request`` as ``rule`` says, calling ``handler`` where the fault lets it be handled."""
        if rule.action == "delay":
            await asyncio.sleep(rule.delay)
            return await handler(request)
        if rule.action == "delay_after":
            response = await handler(request)
            await _hold_while_connected(request, rule.delay)
            return response
        if rule.action == "drop_before":
            return drop_connection(request)
        if rule.action == "drop_after":
            await handler(request)
            return drop_connection(request)
        status = rule.status or (503 if rule.action == "status" else 502)
        if rule.action == "status":
            return self._status_response(rule, status)
        if status >= 300:
            phrase = HTTPStatus(status).phrase
            page = _HTML_PAGE.format(code=status, phrase=phrase)
            return web.Response(status=status, text=page, content_type="text/html")
        return _truncated(await handler(request))


async def _hold_while_connected(request: web.Request, seconds: float) -> None:
    """Wait ``seconds``, or less if the client goes away meanwhile: nobody is left to answer then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(min(left, _HOLD_CHECK_INTERVAL))


def _truncated(response: web.StreamResponse) -> web.StreamResponse:
    """Cut the handler's answer in half: what a proxy that gave up mid-body delivers."""
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    body = response.body
    return web.Response(
        status=response.status,
        body=body[: max(1, len(body) // 2)],
        content_type=response.content_type,
    )
