"""The models the emulator knows: their parameter block, cost, catalogue text and pixel sizes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ParamsBlock:
    """A model family's ``<family>Params`` object: each key's allowed values, the first one the default."""

    name: str
    choices: Mapping[str, tuple[str, ...]]

    def resolve(self, given: Mapping[str, str]) -> dict[str, str]:
        """The full parameter set for a validated block: given values, defaults for the rest."""
        return {key: given.get(key, allowed[0]) for key, allowed in self.choices.items()}


IMAGEN_PARAMS = ParamsBlock(
    name="imagenParams",
    choices={
        "aspect_ratio": ("1:1", "9:16", "16:9", "3:4", "4:3"),
        "output_format": ("jpg", "png"),
        "image_size": ("1K", "2K"),
    },
)


@dataclass(frozen=True)
class ModelSpec:
    id: str
    label: str
    description: str
    cost: int
    params: ParamsBlock
    modality: str = "image"

    def catalogue_entry(self) -> dict[str, object]:
        """This model as ``GET /v2/models`` lists it."""
        return {
            "id": self.id,
            "label": self.label,
            "modality": self.modality,
            "description": self.description,
            "costMin": self.cost,
            "costMax": self.cost,
            "pricingMode": "flat",
        }


# Only imagen-4's 7 credits is published; the other costs are placeholders chosen to keep
# the relative order (fast < standard < ultra) plausible until the vendor publishes them.
MODELS: Mapping[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec("imagen-3", "Imagen 3", "Google's Imagen 3 text-to-image model.", 7, IMAGEN_PARAMS),
        ModelSpec("imagen-3-fast", "Imagen 3 Fast", "Faster, cheaper Imagen 3.", 4, IMAGEN_PARAMS),
        ModelSpec("imagen-4", "Imagen 4", "Google's Imagen 4 text-to-image model.", 7, IMAGEN_PARAMS),
        ModelSpec("imagen-4-ultra", "Imagen 4 Ultra", "Imagen 4's highest-fidelity tier.", 10, IMAGEN_PARAMS),
        ModelSpec("imagen-4-fast", "Imagen 4 Fast", "Faster, cheaper Imagen 4.", 4, IMAGEN_PARAMS),
    )
}

# Width x height at 1K, from Google's Imagen documentation.
_SIZES_1K: Mapping[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "3:4": (896, 1280),
    "4:3": (1280, 896),
    "9:16": (768, 1408),
    "16:9": (1408, 768),
}
_SCALE = {"1K": 1, "2K": 2}


def pixel_size(aspect_ratio: str, image_size: str) -> tuple[int, int]:
    width, height = _SIZES_1K[aspect_ratio]
    scale = _SCALE[image_size]
    return width * scale, height * scale
