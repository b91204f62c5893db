"""``GET /v2/jobs``: its query, checked as the API checks it, and its opaque position cursor."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .jobs import Job, JobStatus
from .state import Position

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
_STATUSES = tuple(status.value for status in JobStatus)
_SCOPES = ("user", "team")
_BOOLEANS = ("true", "false")


class InvalidQuery(Exception):
    """A ``GET /v2/jobs`` query the API refuses, with every problem by parameter."""

    def __init__(self, message: str, details: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True)
class ListQuery:
    """A checked ``GET /v2/jobs`` query: where the page starts, how many jobs, and which."""

    after: Position | None
    limit: int
    status: str | None
    model: str | None
    search: str | None
    include_models: bool

    def keeps(self, job: Job, now: float) -> bool:
        """Whether ``job`` passes the query's filters at ``now``."""
        if self.status is not None and job.progress_at(now).status.value != self.status:
            return False
        if self.model is not None and job.model != self.model:
            return False
        return self.search is None or job.id == self.search


def encode_cursor(job: Job) -> str:
    """Encode the position after ``job``: it stays right when newer jobs are created between two pages."""
    raw = json.dumps([job.created_at, job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """Decode a cursor ``encode_cursor`` made; ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, job_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValueError("undecodable") from None
    if not isinstance(created_at, int | float) or not isinstance(job_id, str):
        raise ValueError("malformed")
    return float(created_at), job_id


def enum_message(allowed: tuple[str, ...], value: str) -> str:
    """Word a value outside an enum as Zod does."""
    options = " | ".join(f"'{option}'" for option in allowed)
    return f"Invalid enum value. Expected {options}, received '{value}'"


def parse_limit(raw: str | None, errors: dict[str, list[str]], default: int = LIMIT_DEFAULT) -> int:
    """Read a ``limit`` query parameter (1 to 100); a problem goes into ``errors`` and gives ``default``."""
    if raw is None:
        return default
    try:
        number = float(raw)
    except ValueError:
        errors["limit"] = ["Expected number, received nan"]
        return default
    if not number.is_integer():
        errors["limit"] = ["Expected integer, received float"]
    elif number < 1:
        errors["limit"] = ["Number must be greater than or equal to 1"]
    elif number > LIMIT_MAX:
        errors["limit"] = [f"Number must be less than or equal to {LIMIT_MAX}"]
    return int(number) if not errors.get("limit") else default


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    """Parse the query of a ``GET /v2/jobs``; :class:`InvalidQuery` with every problem by parameter."""
    errors: dict[str, list[str]] = {}
    limit = parse_limit(query.get("limit"), errors)
    for name, allowed in (("status", _STATUSES), ("scope", _SCOPES), ("include_models", _BOOLEANS)):
        value = query.get(name)
        if value is not None and value not in allowed:
            errors[name] = [enum_message(allowed, value)]
    search = query.get("search")
    if search is not None and not UUID_PATTERN.match(search):
        errors["search"] = ["Invalid uuid"]
    if errors:
        raise InvalidQuery("Validation failed", errors)
    after = None
    cursor = query.get("cursor")
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
        except ValueError:
            raise InvalidQuery("Invalid cursor", {"cursor": ["Invalid cursor"]}) from None
    return ListQuery(
        after=after,
        limit=limit,
        status=query.get("status"),
        model=query.get("model"),
        search=search.lower() if search else None,
        include_models=query.get("include_models") == "true",
    )
