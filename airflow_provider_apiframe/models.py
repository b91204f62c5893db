"""
What the provider knows about apiframe's image models, as data.

A model is a name, the body key of its parameter block, the parameters that block accepts and their
allowed values, and its price. Adding a model that shares a known block is one entry in ``MODELS``; the
hook, the trigger and the operators read these descriptions and hold no model-specific branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_apiframe.exceptions import ApiframeValidationError

PROMPT_MAX_LENGTH = 2000


@dataclass(frozen=True)
class ParamSpec:
    """One key of a model's parameter block and the values the API accepts for it."""

    name: str
    allowed: tuple[str, ...]
    default: str


@dataclass(frozen=True)
class ImageModel:
    """An apiframe image model: how to address it and what it accepts."""

    id: str
    params_key: str
    params: tuple[ParamSpec, ...]
    credit_cost: int | None
    # (aspect_ratio, image_size) -> (width, height) of the image the model returns.
    dimensions: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def param(self, name: str) -> ParamSpec:
        return next(spec for spec in self.params if spec.name == name)

    def check_prompt(self, prompt: Any) -> None:
        """Refuse a prompt the API would refuse, before any credit is spent."""
        path = "prompt"
        if not isinstance(prompt, str):
            raise ApiframeValidationError(
                "Invalid prompt", details={path: [f"must be a string, got {type(prompt).__name__}"]}
            )
        if not prompt.strip():
            raise ApiframeValidationError("Invalid prompt", details={path: ["must not be empty or blank"]})
        if len(prompt) > PROMPT_MAX_LENGTH:
            raise ApiframeValidationError(
                "Invalid prompt",
                details={path: [f"must be at most {PROMPT_MAX_LENGTH} characters, got {len(prompt)}"]},
            )

    def check_param(self, name: str, value: Any) -> None:
        spec = self.param(name)
        if value not in spec.allowed:
            raise ApiframeValidationError(
                f"Invalid {name} for {self.id}",
                details={
                    f"{self.params_key}.{name}": [
                        f"got {value!r}, allowed values are {', '.join(spec.allowed)}"
                    ]
                },
            )

    def build_params(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Check every value and return the parameter block to send; refuses keys the model lacks."""
        known = {spec.name for spec in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ApiframeValidationError(
                f"Unknown parameter for {self.id}",
                details={
                    f"{self.params_key}.{name}": [f"not accepted; known keys: {', '.join(sorted(known))}"]
                    for name in unknown
                },
            )
        for name, value in values.items():
            self.check_param(name, value)
        return dict(values)

    def request_body(self, prompt: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self.check_prompt(prompt)
        body: dict[str, Any] = {"prompt": prompt, "model": self.id}
        block = self.build_params(params)
        if block:
            body[self.params_key] = block
        return body

    def image_dimensions(self, params: Mapping[str, Any]) -> tuple[int, int]:
        """Pixel size of the image a request with these parameters yields."""
        key = tuple(params.get(name, self.param(name).default) for name in ("aspect_ratio", "image_size"))
        return self.dimensions[key[0], key[1]]


def _imagen_dimensions() -> dict[tuple[str, str], tuple[int, int]]:
    one_k = {
        "1:1": (1024, 1024),
        "3:4": (896, 1280),
        "4:3": (1280, 896),
        "9:16": (768, 1408),
        "16:9": (1408, 768),
    }
    sizes: dict[tuple[str, str], tuple[int, int]] = {}
    for ratio, (width, height) in one_k.items():
        sizes[ratio, "1K"] = (width, height)
        sizes[ratio, "2K"] = (2 * width, 2 * height)
    return sizes


IMAGEN_PARAMS = (
    ParamSpec("aspect_ratio", ("1:1", "9:16", "16:9", "3:4", "4:3"), "1:1"),
    ParamSpec("output_format", ("jpg", "png"), "jpg"),
    ParamSpec("image_size", ("1K", "2K"), "1K"),
)
_IMAGEN_SIZES = _imagen_dimensions()

# Only imagen-4's price is published (7 credits); the others read theirs from /v2/models when needed.
MODELS: dict[str, ImageModel] = {
    model.id: model
    for model in (
        ImageModel("imagen-4", "imagenParams", IMAGEN_PARAMS, 7, _IMAGEN_SIZES),
        ImageModel("imagen-4-ultra", "imagenParams", IMAGEN_PARAMS, None, _IMAGEN_SIZES),
        ImageModel("imagen-4-fast", "imagenParams", IMAGEN_PARAMS, None, _IMAGEN_SIZES),
        ImageModel("imagen-3", "imagenParams", IMAGEN_PARAMS, None, _IMAGEN_SIZES),
        ImageModel("imagen-3-fast", "imagenParams", IMAGEN_PARAMS, None, _IMAGEN_SIZES),
    )
}


def get_model(model_id: Any) -> ImageModel:
    try:
        return MODELS[model_id]
    except (KeyError, TypeError):
        raise ApiframeValidationError(
            "Unknown model", details={"model": [f"got {model_id!r}, known models are {', '.join(MODELS)}"]}
        ) from None
