"""Validation of a submit body, with errors keyed by JSON path as the real API reports them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .catalogue import MODELS, ModelSpec

PROMPT_MAX = 2000
WEBHOOK_EVENTS = ("progress", "completed", "failed")
_COMMON_KEYS = frozenset({"prompt", "model", "webhookUrl", "webhookEvents"})


@dataclass(frozen=True)
class Submission:
    """A valid submit body: the parsed fields and the body exactly as sent (the job's ``input``)."""

    prompt: str
    model: ModelSpec
    params: dict[str, str]
    webhook_url: str | None
    webhook_events: tuple[str, ...]
    body: dict[str, Any]


class InvalidSubmission(Exception):
    """The 400 answer: a message and, when fields are at fault, messages per JSON path."""

    def __init__(self, message: str, details: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"error": self.message}
        if self.details is not None:
            answer["details"] = self.details
        return answer


def _type_name(value: object) -> str:
    # Zod's wording, which is what the vendor's validator prints.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _expected(kind: str, value: object) -> str:
    return f"Expected {kind}, received {_type_name(value)}"


def _enum_message(allowed: tuple[str, ...], value: object) -> str:
    options = " | ".join(f"'{option}'" for option in allowed)
    return f"Invalid enum value. Expected {options}, received '{value}'"


def _is_absolute_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class _Collector:
    def __init__(self) -> None:
        self.details: dict[str, list[str]] = defaultdict(list)

    def add(self, path: str, message: str) -> None:
        self.details[path].append(message)


def _check_prompt(body: dict[str, Any], errors: _Collector) -> None:
    if "prompt" not in body:
        errors.add("prompt", "Required")
        return
    prompt = body["prompt"]
    if not isinstance(prompt, str):
        errors.add("prompt", _expected("string", prompt))
    elif len(prompt) < 1:
        errors.add("prompt", "String must contain at least 1 character(s)")
    elif len(prompt) > PROMPT_MAX:
        errors.add("prompt", f"String must contain at most {PROMPT_MAX} character(s)")


def _check_model(body: dict[str, Any], errors: _Collector) -> ModelSpec | None:
    if "model" not in body:
        errors.add("model", "Required")
        return None
    model = body["model"]
    if not isinstance(model, str):
        errors.add("model", _expected("string", model))
        return None
    spec = MODELS.get(model)
    if spec is None:
        known = " | ".join(f"'{name}'" for name in MODELS)
        errors.add("model", f"Invalid discriminator value. Expected {known}, received '{model}'")
    return spec


def _check_webhook(body: dict[str, Any], errors: _Collector) -> None:
    if "webhookUrl" in body:
        url = body["webhookUrl"]
        if not isinstance(url, str):
            errors.add("webhookUrl", _expected("string", url))
        elif not _is_absolute_http_url(url):
            errors.add("webhookUrl", "Invalid url")
    if "webhookEvents" in body:
        events = body["webhookEvents"]
        if not isinstance(events, list):
            errors.add("webhookEvents", _expected("array", events))
            return
        if not events:
            errors.add("webhookEvents", "Array must contain at least 1 element(s)")
        for index, event in enumerate(events):
            if event not in WEBHOOK_EVENTS:
                errors.add(f"webhookEvents.{index}", _enum_message(WEBHOOK_EVENTS, event))


def _check_keys_and_params(body: dict[str, Any], spec: ModelSpec, errors: _Collector) -> None:
    block = spec.params
    for key in body:
        if key not in _COMMON_KEYS and key != block.name:
            errors.add(key, "Unrecognized key")
    if block.name not in body:
        return
    params = body[block.name]
    if not isinstance(params, dict):
        errors.add(block.name, _expected("object", params))
        return
    for key, value in params.items():
        allowed = block.choices.get(key)
        if allowed is None:
            errors.add(f"{block.name}.{key}", "Unrecognized key")
        elif value not in allowed:
            errors.add(f"{block.name}.{key}", _enum_message(allowed, value))


def validate_submission(body: object) -> Submission:
    """The parsed submission, or :class:`InvalidSubmission` carrying every problem found."""
    if not isinstance(body, dict):
        raise InvalidSubmission(f"Request body must be a JSON object, received {_type_name(body)}")
    errors = _Collector()
    _check_prompt(body, errors)
    spec = _check_model(body, errors)
    _check_webhook(body, errors)
    # Which keys are allowed depends on the model (the body is discriminated by it), so
    # with an unknown model only the model itself can be blamed.
    if spec is not None:
        _check_keys_and_params(body, spec, errors)
    if errors.details or spec is None:
        raise InvalidSubmission("Validation failed", dict(errors.details))
    return Submission(
        prompt=body["prompt"],
        model=spec,
        params=spec.params.resolve(body.get(spec.params.name, {})),
        webhook_url=body.get("webhookUrl"),
        webhook_events=tuple(body.get("webhookEvents", ())),
        body=body,
    )
