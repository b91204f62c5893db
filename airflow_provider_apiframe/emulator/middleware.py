"""What happens around every request: counters, injected faults, API keys and the rate limit."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .clock import Clock
from .config import EmulatorConfig
from .control import CONTROL_PREFIX
from .faults import FaultInjector
from .ratelimit import SlidingWindowLimiter
from .responses import DroppedConnection, error_response, retry_after_value
from .state import EmulatorState, key_digest

_PUBLIC_API_PATHS = ("/v2/models",)


def _is_control(request: web.Request) -> bool:
    return request.path.startswith(CONTROL_PREFIX)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/v2/")


def _requires_key(request: web.Request) -> bool:
    return _is_api(request) and request.path not in _PUBLIC_API_PATHS


def count_responses(state: EmulatorState) -> Middleware:
    """Tally what each request got (outermost, so injected faults are counted too)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_control(request):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # aiohttp's own 404/405 for unknown routes: the API's bodies are always JSON.
            response = error_response(exc.status, exc.reason)
        key = request.headers.get("X-API-Key")
        if key and _is_api(request):
            state.counters.requests_by_key[key_digest(key)] += 1
        if isinstance(response, DroppedConnection):
            state.counters.dropped_connections += 1
        else:
            state.counters.responses_by_status[str(response.status)] += 1
        return response

    return middleware


def inject_faults(faults: FaultInjector, config: EmulatorConfig) -> Middleware:
    """Scripted rules on any path but the controls; latency and random faults on the API only."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_control(request):
            return await handler(request)
        if config.latency and _is_api(request):
            await asyncio.sleep(config.latency)
        if _is_api(request) and faults.in_outage():
            return error_response(503, "Service temporarily unavailable")
        rule = faults.pick(request, random_faults=_is_api(request))
        if rule is None:
            return await handler(request)
        return await faults.apply(rule, request, handler)

    return middleware


def authenticate(config: EmulatorConfig) -> Middleware:
    """Check the key of every API request that needs one: 401 without a valid key, 403 for an inactive one."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _requires_key(request):
            return await handler(request)
        key = request.headers.get("X-API-Key")
        if not key:
            return error_response(401, "Missing API key: send it in the X-API-Key header")
        if key in config.inactive_keys:
            return error_response(403, "API key is inactive")
        if key not in config.valid_keys:
            return error_response(401, "Invalid API key")
        return await handler(request)

    return middleware


def rate_limit(limiter: SlidingWindowLimiter, clock: Clock, config: EmulatorConfig) -> Middleware:
    """Answer 429, with a ``Retry-After``, to a request whose key has spent its budget."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Runs after authentication, so a key-bearing route has a valid key here.
        if not _requires_key(request):
            return await handler(request)
        now = clock.now()
        wait = limiter.acquire(request.headers["X-API-Key"], now)
        if wait is None:
            return await handler(request)
        retry_after = retry_after_value(wait, now, config.retry_after_format)
        return error_response(429, "Rate limit exceeded", headers={"Retry-After": retry_after})

    return middleware
