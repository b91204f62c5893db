"""Validation of a body for any job endpoint, with errors keyed by JSON path as the real API reports them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import zod
from .catalogue import IMAGE_GENERATION, OPERATIONS, ModelSpec, Operation

WEBHOOK_EVENTS = ("progress", "completed", "failed")
# The fields every job body shares besides its discriminator and its block, as the spec declares them.
_WEBHOOK_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "webhookUrl": {"type": "string", "format": "uri"},
    "webhookEvents": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": WEBHOOK_EVENTS}},
}
PARENT_JOB_ID = "parentJobId"


@dataclass(frozen=True)
class Submission:
    """A valid job body: the parsed fields and the body exactly as sent (the job's ``input``)."""

    # The text a job's prompt markers are read from: the top-level prompt, else the block's; "" if none.
    prompt: str
    # The model, or for a follow-up endpoint the action.
    model: ModelSpec
    # The parameter block as sent (an action's top-level fields), completed with the spec's defaults.
    params: dict[str, Any]
    webhook_url: str | None
    webhook_events: tuple[str, ...]
    body: dict[str, Any]
    credit_cost: int
    operation: str = IMAGE_GENERATION

    @property
    def parent_job_id(self) -> str | None:
        """The job a follow-up action acts on (lower case), None for any other job."""
        if not OPERATIONS[self.operation].is_action:
            return None
        parent = self.params.get(PARENT_JOB_ID)
        return parent.lower() if isinstance(parent, str) else None


class InvalidSubmission(Exception):
    """The 400 answer: a message and, when fields are at fault, messages per JSON path."""

    def __init__(self, message: str, details: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """Return the JSON body of the 400 answer."""
        answer: dict[str, Any] = {"error": self.message}
        if self.details is not None:
            answer["details"] = self.details
        return answer


class _Collector:
    def __init__(self) -> None:
        self.details: dict[str, list[str]] = defaultdict(list)

    def add(self, path: str, message: str) -> None:
        self.details[path].append(message)

    def check(self, schema: Mapping[str, Any], value: object, path: str) -> None:
        for where, message in zod.problems(schema, value, path):
            self.add(where, message)


def _check_discriminator(body: dict[str, Any], operation: Operation, errors: _Collector) -> ModelSpec | None:
    key = operation.discriminator
    if key not in body:
        errors.add(key, "Required")
        return None
    chosen = body[key]
    if not isinstance(chosen, str):
        errors.add(key, zod.expected("string", chosen))
        return None
    spec = operation.entries.get(chosen)
    if spec is None:
        known = zod.join_values(operation.entries)
        errors.add(key, f"Invalid discriminator value. Expected {known}, received '{chosen}'")
    return spec


def _check_prompt(
    body: dict[str, Any], operation: Operation, spec: ModelSpec | None, errors: _Collector
) -> None:
    # An unknown model's prompt is checked only where every model takes one, against the usual limit.
    if spec is None and not operation.always_prompted:
        return
    if spec is not None and not spec.takes_prompt:
        return
    limit = spec.prompt_max_length if spec is not None else operation.usual_prompt_limit
    if "prompt" not in body:
        if spec is None or spec.prompt_required:
            errors.add("prompt", "Required")
        return
    errors.check({"type": "string", "minLength": 1, "maxLength": limit}, body["prompt"], "prompt")


def _check_webhooks(body: dict[str, Any], errors: _Collector) -> None:
    for key, schema in _WEBHOOK_SCHEMAS.items():
        if key in body:
            errors.check(schema, body[key], key)


def _check_fields(params: Mapping[str, Any], spec: ModelSpec, prefix: str, errors: _Collector) -> None:
    block = spec.params
    for name in block.required:
        if name not in params:
            errors.add(zod.child(prefix, name), "Required")
    for name, value in params.items():
        path = zod.child(prefix, name)
        schema = block.schemas.get(name)
        if schema is None:
            errors.add(path, "Unrecognized key")
        else:
            errors.check(schema, value, path)


def _check_model_body(body: dict[str, Any], spec: ModelSpec, errors: _Collector) -> None:
    block = spec.params
    allowed = {"model", *_WEBHOOK_SCHEMAS, block.key, *(("prompt",) if spec.takes_prompt else ())}
    for key in body:
        if key not in allowed:
            errors.add(key, "Unrecognized key")
    if block.key not in body:
        if spec.block_required:
            errors.add(block.key, "Required")
        return
    params = body[block.key]
    if not isinstance(params, dict):
        errors.add(block.key, zod.expected("object", params))
        return
    _check_fields(params, spec, block.key, errors)


def _action_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in ("action", *_WEBHOOK_SCHEMAS)}


def _marker_text(body: dict[str, Any], params: Mapping[str, Any]) -> str:
    for source in (body, params):
        prompt = source.get("prompt")
        if isinstance(prompt, str):
            return prompt
    return ""


def validate_submission(body: object, operation: str | Operation = IMAGE_GENERATION) -> Submission:
    """Parse a job body for ``operation``; :class:`InvalidSubmission` with every problem if it is invalid."""
    endpoint = OPERATIONS[operation] if isinstance(operation, str) else operation
    if not isinstance(body, dict):
        raise InvalidSubmission(f"Request body must be a JSON object, received {zod.type_name(body)}")
    errors = _Collector()
    spec = _check_discriminator(body, endpoint, errors)
    if not endpoint.is_action:
        _check_prompt(body, endpoint, spec, errors)
    _check_webhooks(body, errors)
    # Which keys are allowed depends on the model or action (the body is discriminated by it), so
    # with an unknown one only the discriminator itself can be blamed.
    if spec is not None:
        if endpoint.is_action:
            _check_fields(_action_fields(body), spec, "", errors)
        else:
            _check_model_body(body, spec, errors)
    if errors.details or spec is None:
        raise InvalidSubmission("Validation failed", dict(errors.details))
    given = _action_fields(body) if endpoint.is_action else body.get(spec.params.key, {})
    params = spec.params.resolve(given)
    return Submission(
        prompt=_marker_text(body, params),
        model=spec,
        params=params,
        webhook_url=body.get("webhookUrl"),
        webhook_events=tuple(body.get("webhookEvents", ())),
        body=body,
        credit_cost=spec.credit_cost(params),
        operation=endpoint.path,
    )
