"""Answers shared by the routes and the middlewares: JSON error bodies and dropped connections."""

from __future__ import annotations

import math
from email.utils import formatdate
from typing import Any

from aiohttp import web

from .config import RetryAfterFormat


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    """Every error the API sends: JSON with a string ``error``, plus any fields the status calls for."""
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


def retry_after_value(seconds: float, now: float, style: RetryAfterFormat) -> str:
    """``Retry-After`` in whole seconds, rounded up so a client waiting that long is never early."""
    whole = max(1, math.ceil(seconds))
    if style == "http-date":
        return formatdate(now + whole, usegmt=True)
    return str(whole)


class DroppedConnection(web.Response):
    """Stands in for the answer after the connection was cut, so the counters know nothing was sent."""


def drop_connection(request: web.Request) -> DroppedConnection:
    """Cut the request's connection without an answer."""
    # aiohttp quietly skips writing to a closed transport; the client sees the server disconnect.
    if request.transport is not None:
        request.transport.abort()
    return DroppedConnection()
