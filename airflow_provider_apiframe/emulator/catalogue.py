"""
The models the emulator serves: the vendor's spec as the package ships it, plus labels and prices.

The spec's job endpoints are derived into the package file ``models.json`` (by
``scripts/derive_catalogue.py``): per endpoint, the key that discriminates its bodies (``model``, or
``action`` for the follow-up endpoints) and every model or action with its parameter block, whether the
block is required, whether a top-level prompt goes with it (and its limit) and the published price; per
block, the body key it sits under (none for an action, whose fields are top-level), every key's JSON
schema, the required keys, the published defaults and which keys take an input file. The emulator reads
that file itself, not through the provider's ``catalogue`` package: it shares the vendor's contract with
the client, never the client's code, so a client bug cannot hide behind a helper both use. What the spec
does not publish, catalogue text and most prices (see :mod:`.pricing`), is the emulator's own.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .pricing import DEFAULT_CLIP_SECONDS, placeholder_price
from .zod import require_supported

CATALOGUE_PACKAGE = "airflow_provider_apiframe.catalogue"
CATALOGUE_FILE = "models.json"
IMAGE_GENERATION = "/v2/images/generate"
# The spec's prompt limit for a model whose entry gives none.
DEFAULT_PROMPT_MAX_LENGTH = 2000
# The parameters by which a request asks for several outputs; such a model is priced per output.
COUNT_PARAMS = ("number_of_images", "n", "num_images", "num_outputs")
# The parameter that sets a video's length in seconds; a video model with it is priced per second.
DURATION_PARAM = "duration"
# The endpoints whose models are priced per second of video they make (upscaling is priced per job).
PER_SECOND_OPERATIONS = ("/v2/videos/generate", "/v2/videos/edit")
# Outputs a job returns without a count parameter: a Midjourney job its grid's four images, Suno and
# Udio two songs per call.
_OUTPUTS_PER_JOB = {"midjourney": 4, "suno": 2, "udio": 2}
# What each endpoint makes, by its path's first segment after /v2/: GET /v2/models's modality.
_MODALITIES = {"images": "image", "videos": "video", "music": "music"}

# Catalogue text kept from the emulator's Imagen-only days; other models get a description made from
# their label and parameters.
_DESCRIPTIONS = {
    "imagen-3": "Google's Imagen 3 text-to-image model.",
    "imagen-3-fast": "Faster, cheaper Imagen 3.",
    "imagen-4": "Google's Imagen 4 text-to-image model.",
    "imagen-4-ultra": "Imagen 4's highest-fidelity tier.",
    "imagen-4-fast": "Faster, cheaper Imagen 4.",
}
# What a model of each endpoint does, for the descriptions made from a label.
_ROLES = {
    IMAGE_GENERATION: "text-to-image model",
    "/v2/images/edit": "image inpainting and outpainting model",
    "/v2/images/upscale": "image upscaler",
    "/v2/images/background-remove": "background remover",
    "/v2/images/midjourney/action": "Midjourney follow-up action",
    "/v2/videos/generate": "video generation model",
    "/v2/videos/edit": "video editing model",
    "/v2/videos/upscale": "video upscaler",
    "/v2/music/generate": "music generation model",
    "/v2/music/suno/action": "Suno follow-up action",
}
# Words of a model id that are not spelt by capitalising their first letter.
_SPELLINGS = {"dall-e": "DALL-E", "gpt": "GPT", "lora": "LoRA"}


@dataclass(frozen=True)
class ParamsBlock:
    """A model's ``<family>Params`` object (or an action's top-level fields) as the spec has it."""

    # The body key the block sits under; "" for an action, whose fields are the body's own.
    key: str
    # Each key's JSON schema (keywords as :mod:`.zod` checks them).
    schemas: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...]
    # The values the spec documents for keys a request leaves out.
    defaults: Mapping[str, Any]
    # Keys that take the URL of an input file, with its kind: image, video or audio.
    inputs: Mapping[str, str]

    @property
    def image_inputs(self) -> tuple[str, ...]:
        """Return the keys that take the URL of an input image."""
        return tuple(name for name, kind in self.inputs.items() if kind == "image")

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Complete a validated block with the documented defaults."""
        return {**self.defaults, **given}


@dataclass(frozen=True)
class ModelSpec:
    """A model (or an action of a follow-up endpoint) as the emulator serves it."""

    id: str
    label: str
    description: str
    # The published price, else the emulator's placeholder (see :mod:`.pricing` for what it counts).
    price: int
    params: ParamsBlock
    # Whether a request must carry the parameter block (for its required keys).
    block_required: bool
    # The top-level prompt's limit; None where the body has no top-level prompt.
    prompt_max_length: int | None
    prompt_required: bool
    # The parameter asking for several outputs, with its largest value; None for a one-price model.
    count_param: str | None
    count_max: int
    images_per_job: int = 1
    modality: str = "image"
    operation: str = IMAGE_GENERATION
    # The durations (seconds) a per-second video model allows, shortest and longest; None otherwise.
    duration_range: tuple[int, int] | None = None

    @property
    def takes_prompt(self) -> bool:
        """Whether the body has a top-level ``prompt``."""
        return self.prompt_max_length is not None

    @property
    def pricing_mode(self) -> str:
        """How ``GET /v2/models`` says the model is priced: ``flat``, ``per-output`` or ``per-second``."""
        if self.duration_range is not None:
            return "per-second"
        return "flat" if self.count_param is None else "per-output"

    def default_duration(self) -> int:
        """Return the seconds of video a job makes when it does not say: the shortest the model allows."""
        return self.duration_range[0] if self.duration_range is not None else DEFAULT_CLIP_SECONDS

    def image_count(self, params: Mapping[str, Any]) -> int:
        """Return how many outputs a job with these (validated) parameters returns."""
        if self.count_param is None:
            return self.images_per_job
        return int(params.get(self.count_param, 1))

    def credit_cost(self, params: Mapping[str, Any]) -> int:
        """Return what a job with these (validated) parameters is charged."""
        if self.duration_range is not None:
            return self.price * int(params.get(DURATION_PARAM, self.default_duration()))
        return self.price if self.count_param is None else self.price * self.image_count(params)

    def catalogue_entry(self) -> dict[str, object]:
        """Return the model as ``GET /v2/models`` lists it."""
        if self.duration_range is not None:
            cost_min, cost_max = (self.price * seconds for seconds in self.duration_range)
        else:
            cost_min = self.price
            cost_max = self.price * (1 if self.count_param is None else self.count_max)
        return {
            "id": self.id,
            "label": self.label,
            "modality": self.modality,
            "description": self.description,
            "costMin": cost_min,
            "costMax": cost_max,
            "pricingMode": self.pricing_mode,
        }


@dataclass(frozen=True)
class Operation:
    """A job endpoint: the key its bodies are discriminated by, and its models or actions by that key."""

    path: str
    # "model", or "action" for a follow-up endpoint (whose block fields are top-level).
    discriminator: str
    modality: str
    entries: Mapping[str, ModelSpec]

    @property
    def is_action(self) -> bool:
        """Whether the endpoint acts on an earlier job (``parentJobId``) rather than making a new one."""
        return self.discriminator == "action"

    @property
    def always_prompted(self) -> bool:
        """Whether every model of the endpoint takes a top-level prompt."""
        return all(spec.takes_prompt for spec in self.entries.values())

    @property
    def usual_prompt_limit(self) -> int:
        """The prompt limit most of the endpoint's models share: an unknown model's prompt is held to it."""
        limits = Counter(spec.prompt_max_length for spec in self.entries.values() if spec.prompt_max_length)
        return limits.most_common(1)[0][0] if limits else DEFAULT_PROMPT_MAX_LENGTH


def label(model_id: str) -> str:
    """Make a readable name from the id: ``flux-1.1-pro`` is ``Flux 1.1 Pro``."""
    words = re.findall(r"dall-e|[^-_]+", model_id)
    return " ".join(_SPELLINGS.get(word, word[:1].upper() + word[1:]) for word in words)


def modality_of(path: str) -> str:
    """Return what an endpoint makes: ``image``, ``video`` or ``music``."""
    return _MODALITIES[path.split("/")[2]]


def _description(model_id: str, operation: str, block: ParamsBlock) -> str:
    if model_id in _DESCRIPTIONS:
        return _DESCRIPTIONS[model_id]
    guided = ", also guided by input images" if operation == IMAGE_GENERATION and block.image_inputs else ""
    return f"{label(model_id)} {_ROLES.get(operation, 'model')}{guided}."


def _block(block_id: str, entry: Mapping[str, Any]) -> ParamsBlock:
    params: Mapping[str, Mapping[str, Any]] = entry["params"]
    for name, param in params.items():
        require_supported(param["schema"], f"{entry['key'] or block_id}.{name}")
    return ParamsBlock(
        key=entry["key"],
        schemas={name: param["schema"] for name, param in params.items()},
        required=tuple(entry["required"]),
        defaults={name: param["default"] for name, param in params.items() if "default" in param},
        inputs={name: param["input"] for name, param in params.items() if param.get("input")},
    )


def _duration_range(schema: Mapping[str, Any] | None) -> tuple[int, int] | None:
    if schema is None:
        return None
    if "anyOf" in schema:
        options = [value for option in schema["anyOf"] for value in option.get("enum", ())]
        numbers = [int(value) for value in options if isinstance(value, int | float)]
        return (min(numbers), max(numbers)) if numbers else None
    if "minimum" in schema and "maximum" in schema:
        return int(schema["minimum"]), int(schema["maximum"])
    return None


def _model(model_id: str, path: str, entry: Mapping[str, Any], block: ParamsBlock) -> ModelSpec:
    count_param = next((name for name in COUNT_PARAMS if name in block.schemas), None)
    published = entry.get("credit_cost")
    modality = modality_of(path)
    takes_prompt = "prompt_max_length" in entry or "prompt_required" in entry
    duration_range = None
    price = published if published is not None else placeholder_price(model_id, path)
    if modality == "video" and count_param is None and path in PER_SECOND_OPERATIONS:
        duration_range = _duration_range(block.schemas.get(DURATION_PARAM))
        if duration_range is None and published is None:
            # A clip of no settable length: charged, flat, for the length such clips have.
            price *= DEFAULT_CLIP_SECONDS
    return ModelSpec(
        id=model_id,
        label=label(model_id),
        description=_description(model_id, path, block),
        price=price,
        params=block,
        block_required=entry["block_required"],
        prompt_max_length=(entry.get("prompt_max_length") or DEFAULT_PROMPT_MAX_LENGTH)
        if takes_prompt
        else None,
        prompt_required=bool(entry.get("prompt_required", takes_prompt)),
        count_param=count_param,
        count_max=block.schemas[count_param].get("maximum", 1) if count_param else 1,
        images_per_job=_OUTPUTS_PER_JOB.get(model_id, 1),
        modality=modality,
        operation=path,
        duration_range=duration_range,
    )


def _load() -> dict[str, Operation]:
    text = resources.files(CATALOGUE_PACKAGE).joinpath(CATALOGUE_FILE).read_text("utf-8")
    catalogue = json.loads(text)
    blocks = {block_id: _block(block_id, entry) for block_id, entry in catalogue["blocks"].items()}
    return {
        path: Operation(
            path=path,
            discriminator=operation["discriminator"],
            modality=modality_of(path),
            entries={
                model_id: _model(model_id, path, entry, blocks[entry["block"]])
                for model_id, entry in operation["models"].items()
            },
        )
        for path, operation in catalogue["operations"].items()
    }


# Every job endpoint of the spec, by path, each with its models or actions in the catalogue's order.
OPERATIONS: Mapping[str, Operation] = _load()
# The image generation models, by id.
MODELS: Mapping[str, ModelSpec] = OPERATIONS[IMAGE_GENERATION].entries
# Every model of every endpoint discriminated by model (actions are no models), as GET /v2/models lists
# them: by modality (images, videos, music), each generation endpoint's first, then in the catalogue's order.
CATALOGUE_MODELS: tuple[ModelSpec, ...] = tuple(
    spec
    for operation in sorted(
        OPERATIONS.values(),
        key=lambda op: (list(_MODALITIES.values()).index(op.modality), not op.path.endswith("/generate")),
    )
    if not operation.is_action
    for spec in operation.entries.values()
)
