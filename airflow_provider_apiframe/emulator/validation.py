"""Validation of a submit body, with errors keyed by JSON path as the real API reports them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import zod
from .catalogue import DEFAULT_PROMPT_MAX_LENGTH, MODELS, ModelSpec
from .outputs import ImageOutput, plan_output

WEBHOOK_EVENTS = ("progress", "completed", "failed")
# The fields every model's request shares besides ``prompt`` and ``model``, as the spec declares them.
_WEBHOOK_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "webhookUrl": {"type": "string", "format": "uri"},
    "webhookEvents": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": WEBHOOK_EVENTS}},
}
_COMMON_KEYS = frozenset({"prompt", "model", *_WEBHOOK_SCHEMAS})


@dataclass(frozen=True)
class Submission:
    """A valid submit body: the parsed fields and the body exactly as sent (the job's ``input``)."""

    prompt: str
    model: ModelSpec
    # The parameter block as sent, completed with the spec's defaults.
    params: dict[str, Any]
    webhook_url: str | None
    webhook_events: tuple[str, ...]
    body: dict[str, Any]
    credit_cost: int
    output: ImageOutput


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


def _check_model(body: dict[str, Any], errors: _Collector) -> ModelSpec | None:
    if "model" not in body:
        errors.add("model", "Required")
        return None
    model = body["model"]
    if not isinstance(model, str):
        errors.add("model", zod.expected("string", model))
        return None
    spec = MODELS.get(model)
    if spec is None:
        known = zod.join_values(MODELS)
        errors.add("model", f"Invalid discriminator value. Expected {known}, received '{model}'")
    return spec


def _check_common(body: dict[str, Any], spec: ModelSpec | None, errors: _Collector) -> None:
    if "prompt" not in body:
        errors.add("prompt", "Required")
    else:
        # An unknown model's prompt is held to the limit most models share.
        limit = spec.prompt_max_length if spec is not None else DEFAULT_PROMPT_MAX_LENGTH
        errors.check({"type": "string", "minLength": 1, "maxLength": limit}, body["prompt"], "prompt")
    for key, schema in _WEBHOOK_SCHEMAS.items():
        if key in body:
            errors.check(schema, body[key], key)


def _check_keys_and_params(body: dict[str, Any], spec: ModelSpec, errors: _Collector) -> None:
    block = spec.params
    for key in body:
        if key not in _COMMON_KEYS and key != block.key:
            errors.add(key, "Unrecognized key")
    if block.key not in body:
        if spec.block_required:
            errors.add(block.key, "Required")
        return
    params = body[block.key]
    if not isinstance(params, dict):
        errors.add(block.key, zod.expected("object", params))
        return
    for name in block.required:
        if name not in params:
            errors.add(zod.child(block.key, name), "Required")
    for name, value in params.items():
        path = zod.child(block.key, name)
        schema = block.schemas.get(name)
        if schema is None:
            errors.add(path, "Unrecognized key")
        else:
            errors.check(schema, value, path)


def validate_submission(body: object) -> Submission:
    """Parse a submit body; :class:`InvalidSubmission` carrying every problem found if it is invalid."""
    if not isinstance(body, dict):
        raise InvalidSubmission(f"Request body must be a JSON object, received {zod.type_name(body)}")
    errors = _Collector()
    spec = _check_model(body, errors)
    _check_common(body, spec, errors)
    # Which keys are allowed depends on the model (the body is discriminated by it), so
    # with an unknown model only the model itself can be blamed.
    if spec is not None:
        _check_keys_and_params(body, spec, errors)
    if errors.details or spec is None:
        raise InvalidSubmission("Validation failed", dict(errors.details))
    params = spec.params.resolve(body.get(spec.params.key, {}))
    return Submission(
        prompt=body["prompt"],
        model=spec,
        params=params,
        webhook_url=body.get("webhookUrl"),
        webhook_events=tuple(body.get("webhookEvents", ())),
        body=body,
        credit_cost=spec.credit_cost(params),
        output=plan_output(spec, params),
    )
