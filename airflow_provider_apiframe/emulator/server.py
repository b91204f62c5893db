"""The emulated API as an aiohttp application: the /v2 routes (see also ``lora_routes``), CDN and controls."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import middleware
from .actions import ActionRefused
from .catalogue import CATALOGUE_MODELS, OPERATIONS, Operation
from .cdn import CdnRoutes, cdn_root, image_pixel_size
from .clock import Clock
from .config import EmulatorConfig
from .control import CONTROL_ROUTES, CONTROLS, Controls
from .faults import FaultInjector
from .jobs import JobStatus
from .listing import UUID_PATTERN, InvalidQuery, encode_cursor, parse_list_query
from .lora_routes import LoraRoutes
from .ratelimit import SlidingWindowLimiter
from .responses import drop_connection, error_response
from .state import EmulatorState, InsufficientCredits
from .teams import Team, api_key_id, key_name, team_of
from .uploads import InvalidUpload, receive_upload
from .validation import InvalidSubmission, validate_submission

_IDEMPOTENCY_KEY_MAX = 255
_MODALITIES = ("image", "video", "music")


def _strict_json(text: str) -> Any:
    """JSON as JavaScript's ``JSON.parse`` reads it: ``NaN`` and ``Infinity`` are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not valid JSON")

    return json.loads(text, parse_constant=refuse)


class ApiRoutes:
    """The handlers of the emulated ``/v2`` API and its CDN."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    @property
    def _now(self) -> float:
        return self.state.clock.now()

    def _team(self, request: web.Request) -> Team:
        # The authentication middleware lets only valid keys this far.
        return team_of(request.headers["X-API-Key"], self.state.config)

    def routes(self) -> list[web.RouteDef]:
        """Return the route of each handler."""
        return [
            *(web.post(path, self.submitter(operation)) for path, operation in OPERATIONS.items()),
            web.post("/v2/uploads", self.upload),
            web.get("/v2/jobs", self.list_jobs),
            web.get("/v2/jobs/{job_id}", self.get_job),
            web.get("/v2/me", self.me),
            web.get("/v2/models", self.models),
            *LoraRoutes(self.state).routes(),
            *CdnRoutes(self.state).routes(),
        ]

    def submitter(self, operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Return the handler of a job endpoint's ``POST``."""

        async def submit(request: web.Request) -> web.Response:
            return await self.submit(request, operation)

        submit.__doc__ = f"Answer ``POST {operation.path}``."
        return submit

    async def submit(self, request: web.Request, operation: Operation) -> web.Response:
        """Answer a job endpoint's ``POST``: check the body (and parent), charge the team, create the job."""
        self.state.counters.submits += 1
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= _IDEMPOTENCY_KEY_MAX:
            return error_response(400, f"Idempotency-Key must be 1 to {_IDEMPOTENCY_KEY_MAX} characters")
        try:
            body = await request.json(loads=_strict_json)
        except ValueError:
            return error_response(400, "Request body is not valid JSON")
        try:
            submission = validate_submission(body, operation)
            accepted = self.state.submit(submission, self._team(request).id, idempotency_key)
        except InvalidSubmission as invalid:
            return web.json_response(invalid.body(), status=400)
        except ActionRefused as refused:
            return error_response(409, str(refused))
        except InsufficientCredits as short:
            return error_response(
                402, "Insufficient credits", creditsRequired=short.required, creditsAvailable=short.available
            )
        status = accepted.job.progress_at(self._now).status if accepted.replayed else JobStatus.QUEUED
        self.state.counters.accepted_submits += 1
        every = self.state.config.lose_submit_answer_every
        if every and self.state.counters.accepted_submits % every == 0:
            # The job exists and is paid for, but its answer never reaches the client.
            return drop_connection(request)
        return web.json_response({"jobId": accepted.job.id, "status": status.value}, status=202)

    async def list_jobs(self, request: web.Request) -> web.Response:
        """Answer ``GET /v2/jobs``: a page of the team's jobs, newest first."""
        self.state.counters.list_requests += 1
        try:
            query = parse_list_query(request.query)
        except InvalidQuery as invalid:
            return error_response(400, invalid.message, details=invalid.details)
        now = self._now
        team_id = self._team(request).id
        jobs, more = self.state.list_jobs(
            team_id, query.after, query.limit, lambda job: query.keeps(job, now)
        )
        retention, cdn = self.state.config.retention, cdn_root(request)
        answer: dict[str, Any] = {
            "jobs": [job.to_json(now, retention, cdn) for job in jobs],
            "hasMore": more,
            "nextCursor": encode_cursor(jobs[-1]) if more else None,
        }
        if query.include_models:
            answer["models"] = sorted({job.model for job in self.state.jobs_from(team_id, None)})
        return web.json_response(answer)

    async def get_job(self, request: web.Request) -> web.Response:
        """Answer ``GET /v2/jobs/{id}``: one of the team's jobs as it stands now."""
        self.state.counters.polls += 1
        job_id = request.match_info["job_id"]
        if not UUID_PATTERN.match(job_id):
            return error_response(400, "Invalid job id: expected a UUID")
        job = self.state.find_job(job_id.lower(), self._team(request).id)
        if job is None:
            return error_response(404, "Job not found")
        return web.json_response(job.to_json(self._now, self.state.config.retention, cdn_root(request)))

    async def upload(self, request: web.Request) -> web.Response:
        """Answer ``POST /v2/uploads``: store the ``file`` part, sniffed and capped, until it expires."""
        try:
            received = await receive_upload(request)
        except InvalidUpload as invalid:
            return web.json_response(invalid.body(), status=400)
        size = image_pixel_size(received.data) if received.type.kind == "image" else None
        upload = self.state.add_upload(received, self._team(request).id, size)
        return web.json_response(upload.to_json(cdn_root(request)), status=201)

    async def me(self, request: web.Request) -> web.Response:
        """Answer ``GET /v2/me``: the user, the team with its balance, and the key."""
        key = request.headers["X-API-Key"]
        config = self.state.config
        team = self._team(request)
        return web.json_response(
            {
                "user": {"id": team.user_id, "email": "emulator@apiframe.invalid", "role": "OWNER"},
                "team": {
                    "id": team.id,
                    "name": team.name,
                    "credits": self.state.balance_of(team.id),
                    "plan": "emulator",
                    "customerId": None,
                },
                "apiKey": {
                    "id": api_key_id(key),
                    "name": key_name(key, config),
                    "prefix": key[:8],
                },
            }
        )

    async def models(self, request: web.Request) -> web.Response:
        """Answer ``GET /v2/models``: the catalogue, of one modality if asked."""
        modality = request.query.get("modality")
        if modality is not None and modality not in _MODALITIES:
            options = " | ".join(f"'{name}'" for name in _MODALITIES)
            return error_response(
                400,
                "Validation failed",
                details={"modality": [f"Invalid enum value. Expected {options}, received '{modality}'"]},
            )
        entries: list[dict[str, Any]] = [
            spec.catalogue_entry() for spec in CATALOGUE_MODELS if modality in (None, spec.modality)
        ]
        return web.json_response({"models": entries})


def build_app(config: EmulatorConfig | None = None) -> web.Application:
    """Build the emulator as an aiohttp application, ready for any runner."""
    config = config or EmulatorConfig()
    clock = Clock(config.clock)
    state = EmulatorState(config, clock)
    faults = FaultInjector(config, clock)
    limiter = SlidingWindowLimiter(config.rate_limit_per_minute)
    app = web.Application(
        middlewares=[
            middleware.count_responses(state),
            middleware.inject_faults(faults, config),
            middleware.authenticate(config),
            middleware.rate_limit(limiter, clock, config),
        ]
    )
    app[CONTROLS] = Controls(state, faults, limiter, clock)
    app.add_routes(ApiRoutes(state).routes())
    app.add_routes(CONTROL_ROUTES)
    return app
