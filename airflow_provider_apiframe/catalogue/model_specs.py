"""
What the provider knows about apiframe's models, for every job operation: the catalogue in ``models.json``.

The catalogue is derived from the vendor's OpenAPI document by ``scripts/derive_catalogue.py``: per job
endpoint, every model (or, for the action endpoints, every action), the body key of its parameter block
(none where an action's fields sit at the top level), each parameter's JSON schema (type, allowed
values, range, pattern), which are required, which take an image, video or audio input, whether a
top-level prompt goes with it, and the published defaults and prices. It is read on first use, not on
import, so a DAG file that imports an operator pays nothing for it. The hook, the triggers and the
operators read these descriptions and hold no model-specific branch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_apiframe.exceptions import ApiframeValidationError, shown
from airflow_provider_apiframe.utils.ids import is_uuid

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

PROMPT_MAX_LENGTH = 2000
IMAGE_GENERATION_PATH = "/v2/images/generate"
# Number.MAX_SAFE_INTEGER: the API reads JSON into JavaScript numbers, which hold no larger integer exactly.
MAX_SAFE_INTEGER = 2**53 - 1
# Distinct parameter blocks a model keeps the check of (a batch has a few; a parse of many DAGs more).
VERDICTS_KEPT = 256
CATALOGUE_FILE = "models.json"


@cache
def load_catalogue() -> Mapping[str, Any]:
    """Read the catalogue as stored: ``source``, ``blocks`` (by id), ``operations`` (by endpoint)."""
    text = resources.files("airflow_provider_apiframe.catalogue").joinpath(CATALOGUE_FILE).read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ParamSpec:
    """One key of a model's parameter block: its JSON schema as the spec gives it."""

    name: str
    schema: Mapping[str, Any]
    required: bool = False
    # What a URI parameter takes: "image", "video" or "audio"; None for any other parameter.
    input: str | None = None
    # A published default; None where the API picks one it does not document.
    default: Any = None

    @property
    def image_input(self) -> bool:
        """Whether the parameter takes an image (a reference, a mask, an input to edit)."""
        return self.input == "image"

    @property
    def choices(self) -> tuple[Any, ...]:
        """The allowed values of an enumerated parameter; empty for any other."""
        return tuple(self.schema.get("enum", ()))

    @property
    def allowed(self) -> str:
        """What the API accepts here, in words, for error messages and docs."""
        return describe(self.schema)


def describe(schema: Mapping[str, Any]) -> str:
    """Say in words what a parameter's JSON schema allows, for error messages and docs."""
    if "enum" in schema:
        return "one of " + ", ".join(str(choice) for choice in schema["enum"])
    if "anyOf" in schema and all("enum" in option for option in schema["anyOf"]):
        return "one of " + ", ".join(str(choice) for option in schema["anyOf"] for choice in option["enum"])
    kinds = schema.get("type", "any")
    kind = next(k for k in ([kinds] if isinstance(kinds, str) else kinds) if k != "null")
    nullable = " (or null)" if isinstance(kinds, list) and "null" in kinds else ""
    if kind == "array":
        items = describe(schema.get("items", {}))
        count = ""
        if "maxItems" in schema:
            count = f" of at most {schema['maxItems']}"
        return f"a list{count} of items that are each {items}{nullable}"
    if kind in ("integer", "number"):
        words = "an integer" if kind == "integer" else "a number"
        low, high = schema.get("minimum"), schema.get("maximum")
        if "exclusiveMinimum" in schema:
            return f"{words} greater than {schema['exclusiveMinimum']}"
        if low is not None and high is not None:
            return f"{words} from {low} to {high}"
        if low is not None:
            return f"{words} of at least {low}"
        return f"{words} of at most {high}" if high is not None else words
    if kind == "boolean":
        return "true or false"
    if schema.get("format") == "uri":
        return "an absolute http(s) URL"
    if schema.get("format") == "uuid":
        return "a UUID"
    if "pattern" in schema:
        return f"a string matching {schema['pattern']}"
    if "maxLength" in schema:
        return f"a string of at most {schema['maxLength']} characters"
    return "a string"


@dataclass(frozen=True)
class ModelSpec:
    """
    An apiframe model (or action) of one operation: how to address it and what it accepts.

    :param id: The model's id (``imagen-4``), or the action's name (``upsample``).
    :param params_key: The body key of its parameter block (``imagenParams``); empty where its fields sit
        at the top level of the body (the action endpoints).
    :param params: Every key of the block.
    :param credit_cost: The published price of one job, if there is one.
    :param block_required: Whether the block must be sent (a character reference, a LoRA, an action).
    :param prompt_max_length: The longest top-level prompt; 0 where the body has no top-level prompt.
    :param block_id: The block's id in the catalogue, shared by models with the same block.
    :param discriminator: The body key that names the model: ``model``, or ``action``.
    """

    id: str
    params_key: str
    params: tuple[ParamSpec, ...]
    credit_cost: int | None
    block_required: bool = False
    prompt_max_length: int = PROMPT_MAX_LENGTH
    block_id: str = ""
    discriminator: str = "model"
    # Problems found in blocks of plain JSON, by the block's canonical text: a batch's rows mostly share
    # one block, and checking each again was most of a 10,000-row batch's worker time.
    _verdicts: dict[tuple[str, bool], tuple[tuple[str, str], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def param(self, name: str) -> ParamSpec:
        """Return the spec of the parameter ``name``, which must be one of the model's."""
        return next(spec for spec in self.params if spec.name == name)

    @property
    def image_inputs(self) -> tuple[str, ...]:
        """The names of the parameters that are image inputs."""
        return tuple(spec.name for spec in self.params if spec.image_input)

    @property
    def inputs(self) -> dict[str, str]:
        """Every parameter that takes a file (a URI), with what it takes: image, video or audio."""
        return {spec.name: spec.input for spec in self.params if spec.input}

    @property
    def main_input(self) -> ParamSpec | None:
        """The first required file input (the image to upscale, the video to edit); None if it has none."""
        return next((spec for spec in self.params if spec.input and spec.required), None)

    @property
    def takes_prompt(self) -> bool:
        """Whether the body has a top-level ``prompt`` (else a prompt, if any, is one of the block's keys)."""
        return self.prompt_max_length > 0

    def check_prompt(self, prompt: Any) -> None:
        """Refuse a prompt the API would refuse, before any credit is spent."""
        path = "prompt"
        if not self.takes_prompt:
            if prompt is None:
                return
            raise ApiframeValidationError(
                "Invalid prompt",
                details={
                    path: [f"{self.id} takes no top-level prompt; give it in its options if it has one"]
                },
            )
        if not isinstance(prompt, str):
            raise ApiframeValidationError(
                "Invalid prompt", details={path: [f"must be a string, got {type(prompt).__name__}"]}
            )
        if not prompt.strip():
            raise ApiframeValidationError("Invalid prompt", details={path: ["must not be empty or blank"]})
        if len(prompt) > self.prompt_max_length:
            raise ApiframeValidationError(
                "Invalid prompt",
                details={path: [f"must be at most {self.prompt_max_length} characters, got {len(prompt)}"]},
            )

    def check_params(self, values: Any, *, only: Mapping[str, Any] | None = None) -> None:
        """
        Refuse a parameter block the API would refuse, naming every bad field and what it allows.

        With ``only``, just those values are checked (a DAG file's literal ones; templated values and
        required keys wait until the task renders them).
        """
        if not isinstance(values, Mapping):
            raise ApiframeValidationError(
                f"Invalid parameters for {self.id}",
                details={
                    self.params_key or "options": [
                        f"must be a mapping of parameter names to values, got {shown(values)}"
                    ]
                },
            )
        checked = values if only is None else only
        details: dict[str, list[str]] = {}
        for path, message in self._known_problems(checked, partial=only is not None):
            details.setdefault(
                ".".join(part for part in (self.params_key, path) if part) or "options", []
            ).append(message)
        if details:
            raise ApiframeValidationError(f"Invalid parameters for {self.id}", details=details)

    def _known_problems(self, values: Mapping[Any, Any], *, partial: bool) -> tuple[tuple[str, str], ...]:
        """Return the block's problems, found once for each distinct block of plain JSON."""
        if not _plain(values):
            return tuple(self._problems(values, partial=partial))
        key = (json.dumps(values, sort_keys=True), partial)
        if key not in self._verdicts:
            if len(self._verdicts) >= VERDICTS_KEPT:
                self._verdicts.clear()
            self._verdicts[key] = tuple(self._problems(values, partial=partial))
        return self._verdicts[key]

    def _problems(self, values: Mapping[Any, Any], *, partial: bool) -> Iterator[tuple[str, str]]:
        known = {spec.name: spec for spec in self.params}
        # A name of another type is reported, not compared with the known ones: mixed types do not sort.
        for name in values:
            if not isinstance(name, str):
                yield shown(name), f"parameter names must be strings, got {type(name).__name__}"
        named = {name: value for name, value in values.items() if isinstance(name, str)}
        for name in sorted(set(named) - set(known)):
            yield name, f"not accepted by {self.id}; its keys are {', '.join(sorted(known)) or 'none'}"
        if not partial:
            if self.block_required and not values:
                required = ", ".join(spec.name for spec in self.params if spec.required)
                yield "", f"required by {self.id} (with {required})"
            for spec in self.params:
                if spec.required and values and spec.name not in values:
                    yield spec.name, f"required by {self.id}: {spec.allowed}"
        yield from self._value_problems({k: v for k, v in named.items() if k in known}, known)

    def _value_problems(
        self, values: dict[str, Any], known: Mapping[str, ParamSpec]
    ) -> Iterator[tuple[str, str]]:
        # JSON's limits first: the schema would take NaN or a Decimal for a number (and choke on a
        # Decimal NaN), so it judges only the values that could be sent at all.
        sendable = {}
        for name, value in values.items():
            unsendable = list(_unsendable(value, [name]))
            for path, problem in unsendable:
                yield _where(path), f"{problem}, allowed: {_allowed(known, path)}"
            if not unsendable:
                sendable[name] = value
        for error in _validator(self.block_id).iter_errors(sendable):
            path = list(error.absolute_path)
            if not path:  # "required": reported above with the model's own words
                continue
            yield _where(path), f"got {shown(error.instance)}, allowed: {_allowed(known, path)}"

    def build_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check every value and return the parameter block to send."""
        self.check_params(values)
        return dict(values)

    def request_body(self, prompt: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check the prompt and the block as the API would, and build the body to send."""
        self.check_prompt(prompt)
        body: dict[str, Any] = {"prompt": prompt} if self.takes_prompt else {}
        body[self.discriminator] = self.id
        block = self.build_params(params)
        if not self.params_key:
            body.update(block)
        elif block or self.block_required:
            body[self.params_key] = block
        return body


# Where a value sits in the parameter block: a name, then list indexes or nested names.
FieldPath = list[str | int]


def _plain(value: Any) -> bool:
    """Whether a value is made of JSON's own types only (so its text says all there is to check)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_plain(item) for item in value)
    if kind is dict:
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if kind is int:
        return abs(value) <= MAX_SAFE_INTEGER
    return kind in (str, bool, type(None))


def _unsendable(value: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Where ``value`` holds something the API's JSON cannot carry exactly, and what."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, f"got {value!r} (not a finite number)"
    elif isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        yield path, f"got {shown(value, 40)} (past {MAX_SAFE_INTEGER}, the largest integer the API reads)"
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _unsendable(item, [*path, index])
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield from _unsendable(item, [*path, key])
            else:
                yield [*path, shown(key)], f"names must be strings, got {type(key).__name__}"
    elif not isinstance(value, str | int | float | None):
        kind = type(value).__name__
        yield path, f"got {shown(value)} (of type {kind}; JSON carries numbers as int or float only)"


def _where(path: FieldPath) -> str:
    return str(path[0]) + "".join(f"[{step}]" for step in path[1:])


def _allowed(known: Mapping[str, ParamSpec], path: FieldPath) -> str:
    spec = known[str(path[0])]
    return spec.allowed if len(path) == 1 else describe(spec.schema.get("items", {}))


@cache
def _validator(block_id: str) -> Validator:
    # jsonschema is already one of Airflow's own dependencies; imported here, it costs a DAG file nothing.
    from jsonschema import Draft202012Validator, FormatChecker

    block = load_catalogue()["blocks"][block_id]
    formats = FormatChecker(formats=())
    formats.checks("uri")(_is_http_url)
    formats.checks("uuid")(_uuid_format)
    schema = {
        "type": "object",
        "properties": {name: param["schema"] for name, param in block["params"].items()},
    }
    return Draft202012Validator(schema, format_checker=formats)


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the type check reports it
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _uuid_format(value: object) -> bool:
    # A JSON Schema format applies to strings only: a value of another type is the type check's business.
    return not isinstance(value, str) or is_uuid(value)


@cache
def _models(path: str) -> Mapping[str, ModelSpec]:
    catalogue = load_catalogue()
    operation = catalogue["operations"][path]
    models: dict[str, ModelSpec] = {}
    for model_id, entry in operation["models"].items():
        block = catalogue["blocks"][entry["block"]]
        params = tuple(
            ParamSpec(
                name=name,
                schema=param["schema"],
                required=name in block["required"],
                input=param.get("input"),
                default=param.get("default"),
            )
            for name, param in block["params"].items()
        )
        takes_prompt = "prompt_max_length" in entry
        models[model_id] = ModelSpec(
            id=model_id,
            params_key=block["key"],
            params=params,
            credit_cost=entry["credit_cost"],
            block_required=entry["block_required"],
            prompt_max_length=(entry["prompt_max_length"] or PROMPT_MAX_LENGTH) if takes_prompt else 0,
            block_id=entry["block"],
            discriminator=operation["discriminator"],
        )
    return models


def model_ids(path: str = IMAGE_GENERATION_PATH) -> tuple[str, ...]:
    """Every model (or action) of the endpoint at ``path`` the catalogue knows, sorted."""
    return tuple(_models(path))


def get_model(model_id: Any, path: str = IMAGE_GENERATION_PATH) -> ModelSpec:
    """Return the model (or action) of the endpoint at ``path``; a validation error naming the known ones."""
    models = _models(path)
    try:
        return models[model_id]
    except (KeyError, TypeError):
        field = next(iter(models.values())).discriminator if models else "model"
        raise ApiframeValidationError(
            f"Unknown {field}",
            details={field: [f"got {shown(model_id)}, known {field}s are {', '.join(models)}"]},
        ) from None
