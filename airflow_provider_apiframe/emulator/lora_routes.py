"""
The ``/v2/loras`` routes: create a training, list the team's LoRAs, read one, archive one.

- ``POST /v2/loras``: the form checked as :mod:`.lora_form` reads it (400), then the team's in-flight cap
  (429 with a ``Retry-After``: until the first training in flight ends), then the balance (402 with both
  numbers); 202 ``{"id", "status": "PENDING", "imageCount"}``. An ``Idempotency-Key`` is ignored, as the
  spec declares none: the same request twice makes (and charges) two LoRAs.
- ``GET /v2/loras``: the spec's ``LoraList``, ``{"items": [Lora...], "nextCursor": id | null}``, newest
  first; ``cursor`` (a LoRA's id), ``limit`` (1-100, default 24), ``includeArchived`` (``true`` or
  ``false``, the default), each refused with the validation body when invalid.
- ``GET /v2/loras/{id}``: the spec's ``Lora``; ``DELETE /v2/loras/{id}``: 204, archived, and 204 again
  for an archived one. Both answer 400 (validation body at ``id``) for an id that is not a UUID and 404
  for an unknown one or another team's.
- ``flux-lora`` generation (``POST /v2/images/generate``) takes only a READY LoRA of the caller's team
  (see ``EmulatorState.submit``). Any other ``fluxLoraParams.loraId`` (unknown, another team's, still in
  flight, FAILED or ARCHIVED) is answered 400 with the validation body, ``details`` at
  ``fluxLoraParams.loraId`` saying which: the spec declares no 404 or 409 for that route, and its 400
  (``ValidationError``, "Request body failed validation") is the answer it has for a body that cannot run.
  Nothing is created or charged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from .listing import UUID_PATTERN, InvalidQuery, enum_message, parse_limit
from .lora_form import read_lora_form
from .loras import Lora
from .responses import error_response, retry_after_value
from .state import EmulatorState, InsufficientCredits, TrainingCapReached
from .teams import Team, team_of
from .validation import InvalidSubmission

LORAS_PATH = "/v2/loras"
LIST_LIMIT_DEFAULT = 24
_BOOLEANS = ("true", "false")


@dataclass(frozen=True)
class LoraListQuery:
    """A checked ``GET /v2/loras`` query."""

    cursor: str | None
    limit: int
    include_archived: bool


def parse_lora_list_query(query: Mapping[str, str]) -> LoraListQuery:
    """Check a ``GET /v2/loras`` query; :class:`InvalidQuery` with every problem by parameter."""
    errors: dict[str, list[str]] = {}
    limit = parse_limit(query.get("limit"), errors, LIST_LIMIT_DEFAULT)
    cursor = query.get("cursor")
    if cursor is not None and not UUID_PATTERN.match(cursor):
        errors["cursor"] = ["Invalid uuid"]
    include_archived = query.get("includeArchived", "false")
    if include_archived not in _BOOLEANS:
        errors["includeArchived"] = [enum_message(_BOOLEANS, include_archived)]
    if errors:
        raise InvalidQuery("Validation failed", errors)
    return LoraListQuery(cursor, limit, include_archived == "true")


class LoraRoutes:
    """The handlers of ``/v2/loras``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        """Return the route of each handler."""
        return [
            web.post(LORAS_PATH, self.create_lora),
            web.get(LORAS_PATH, self.list_loras),
            web.get(f"{LORAS_PATH}/{{lora_id}}", self.get_lora),
            web.delete(f"{LORAS_PATH}/{{lora_id}}", self.archive_lora),
        ]

    def _team(self, request: web.Request) -> Team:
        # The authentication middleware lets only valid keys this far.
        return team_of(request.headers["X-API-Key"], self.state.config)

    async def create_lora(self, request: web.Request) -> web.Response:
        """Answer ``POST /v2/loras``: check the form, the in-flight cap and the balance, create the LoRA."""
        try:
            form = await read_lora_form(request)
            lora = self.state.create_lora(form, self._team(request))
        except InvalidSubmission as invalid:
            return web.json_response(invalid.body(), status=400)
        except TrainingCapReached as full:
            clock = self.state.clock
            retry_after = retry_after_value(
                full.retry_after, clock.now(), self.state.config.retry_after_format
            )
            return error_response(429, str(full), headers={"Retry-After": retry_after})
        except InsufficientCredits as short:
            return error_response(
                402, "Insufficient credits", creditsRequired=short.required, creditsAvailable=short.available
            )
        return web.json_response(
            {"id": lora.id, "status": "PENDING", "imageCount": lora.form.image_count}, status=202
        )

    async def list_loras(self, request: web.Request) -> web.Response:
        """Answer ``GET /v2/loras``: a page of the team's LoRAs, newest first."""
        try:
            query = parse_lora_list_query(request.query)
        except InvalidQuery as invalid:
            return error_response(400, invalid.message, details=invalid.details)
        now = self.state.clock.now()
        items, more = self.state.loras.page(
            self._team(request).id, query.cursor, query.limit, query.include_archived, now
        )
        return web.json_response(
            {"items": [lora.to_json(now) for lora in items], "nextCursor": items[-1].id if more else None}
        )

    def _find(self, request: web.Request) -> Lora | web.Response:
        lora_id = request.match_info["lora_id"]
        if not UUID_PATTERN.match(lora_id):
            return error_response(400, "Validation failed", details={"id": ["Invalid uuid"]})
        lora = self.state.loras.find(lora_id, self._team(request).id)
        return lora if lora is not None else error_response(404, "LoRA not found")

    async def get_lora(self, request: web.Request) -> web.Response:
        """Answer ``GET /v2/loras/{id}``: one of the team's LoRAs as it stands now."""
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response(found.to_json(self.state.clock.now()))

    async def archive_lora(self, request: web.Request) -> web.Response:
        """Answer ``DELETE /v2/loras/{id}``: archive the LoRA (again: a no-op), 204."""
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        found.archive(self.state.clock.now())
        return web.Response(status=204)
