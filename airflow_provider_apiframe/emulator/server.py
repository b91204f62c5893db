"""The emulated API as an aiohttp application: the /v2 routes, the CDN and the controls."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from . import images, middleware
from .catalogue import MODELS
from .clock import Clock
from .config import EmulatorConfig
from .control import CONTROL_ROUTES, CONTROLS, Controls
from .faults import FaultInjector
from .jobs import JobStatus
from .listing import UUID_PATTERN, InvalidQuery, encode_cursor, parse_list_query
from .ratelimit import SlidingWindowLimiter
from .responses import drop_connection, error_response
from .state import TEAM_ID, USER_ID, EmulatorState, InsufficientCredits, api_key_id
from .validation import InvalidSubmission, validate_submission

_IDEMPOTENCY_KEY_MAX = 255
_MODALITIES = ("image", "video", "music")


def _strict_json(text: str) -> Any:
    """JSON as JavaScript's ``JSON.parse`` reads it: ``NaN`` and ``Infinity`` are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not valid JSON")

    return json.loads(text, parse_constant=refuse)


def _cdn_base(request: web.Request) -> str:
    # Built from the request itself so image URLs work whichever host and port the client used.
    return f"{request.scheme}://{request.host}/cdn/images"


class ApiRoutes:
    """The handlers of the emulated ``/v2`` API and its CDN."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    @property
    def _now(self) -> float:
        return self.state.clock.now()

    def routes(self) -> list[web.RouteDef]:
        """Return the route of each handler."""
        return [
            web.post("/v2/images/generate", self.submit),
            web.get("/v2/jobs", self.list_jobs),
            web.get("/v2/jobs/{job_id}", self.get_job),
            web.get("/v2/me", self.me),
            web.get("/v2/models", self.models),
            web.get("/cdn/images/{name}", self.cdn_image),
        ]

    async def submit(self, request: web.Request) -> web.Response:
        """Answer ``POST /v2/images/generate``: check the body, charge the team, and create the job."""
        self.state.counters.submits += 1
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= _IDEMPOTENCY_KEY_MAX:
            return error_response(400, f"Idempotency-Key must be 1 to {_IDEMPOTENCY_KEY_MAX} characters")
        try:
            body = await request.json(loads=_strict_json)
        except ValueError:
            return error_response(400, "Request body is not valid JSON")
        try:
            submission = validate_submission(body)
        except InvalidSubmission as invalid:
            return web.json_response(invalid.body(), status=400)
        try:
            accepted = self.state.submit(submission, TEAM_ID, idempotency_key)
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
        jobs, more = self.state.list_jobs(
            TEAM_ID, query.after, query.limit, lambda job: query.keeps(job, now)
        )
        retention, cdn = self.state.config.retention, _cdn_base(request)
        answer: dict[str, Any] = {
            "jobs": [job.to_json(now, retention, cdn) for job in jobs],
            "hasMore": more,
            "nextCursor": encode_cursor(jobs[-1]) if more else None,
        }
        if query.include_models:
            answer["models"] = sorted(
                {job.submission.model.id for job in self.state.jobs_from(TEAM_ID, None)}
            )
        return web.json_response(answer)

    async def get_job(self, request: web.Request) -> web.Response:
        """Answer ``GET /v2/jobs/{id}``: one of the team's jobs as it stands now."""
        self.state.counters.polls += 1
        job_id = request.match_info["job_id"]
        if not UUID_PATTERN.match(job_id):
            return error_response(400, "Invalid job id: expected a UUID")
        job = self.state.find_job(job_id.lower(), TEAM_ID)
        if job is None:
            return error_response(404, "Job not found")
        return web.json_response(job.to_json(self._now, self.state.config.retention, _cdn_base(request)))

    async def me(self, request: web.Request) -> web.Response:
        """Answer ``GET /v2/me``: the user, the team with its balance, and the key."""
        key = request.headers["X-API-Key"]
        config = self.state.config
        return web.json_response(
            {
                "user": {"id": USER_ID, "email": "emulator@apiframe.invalid", "role": "OWNER"},
                "team": {
                    "id": TEAM_ID,
                    "name": "apiframe emulator",
                    "credits": self.state.balance,
                    "plan": "emulator",
                    "customerId": None,
                },
                "apiKey": {
                    "id": api_key_id(key),
                    "name": f"emulator key {config.api_keys.index(key) + 1}",
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
            spec.catalogue_entry() for spec in MODELS.values() if modality in (None, spec.modality)
        ]
        return web.json_response({"models": entries})

    async def cdn_image(self, request: web.Request) -> web.Response:
        """Serve a completed job's image from the CDN until it expires."""
        # <job id>-<n>.<format>: the job id is everything before the last hyphen.
        name = request.match_info["name"]
        job_id, _, numbered = name.rpartition("-")
        job = self.state.jobs.get(job_id)
        now = self._now
        if (
            job is None
            or name not in job.image_names
            or job.progress_at(now).status is not JobStatus.COMPLETED
            or job.is_expired(now, self.state.config.retention)
        ):
            return error_response(404, "Not found")
        index = int(numbered.partition(".")[0])
        output = job.submission.output
        # Rendering takes up to a few hundred milliseconds; keep the event loop answering meanwhile.
        data = await asyncio.get_running_loop().run_in_executor(
            None,
            images.render_image,
            job.id,
            index,
            job.submission.prompt,
            output.width,
            output.height,
            output.format,
        )
        return web.Response(body=data, content_type=images.CONTENT_TYPES[output.format])


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
