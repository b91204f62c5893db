"""
The models the emulator serves: the vendor's spec as the package ships it, plus labels and prices.

The spec's image models are derived into the package file ``image_models.json`` (by
``scripts/derive_catalogue.py``): each model's parameter block with every key's JSON schema, the
required keys, the published defaults and prices. The emulator reads that file itself, not through the
provider's ``models`` module: it shares the vendor's contract with the client, never the client's code,
so a client bug cannot hide behind a helper both use. What the spec does not publish, catalogue text and
most prices, is the emulator's own and is made here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .zod import require_supported

CATALOGUE_PACKAGE = "airflow_provider_apiframe.catalogue"
CATALOGUE_FILE = "image_models.json"
# The spec's prompt limit for a model whose entry gives none.
DEFAULT_PROMPT_MAX_LENGTH = 2000
# The parameters by which a request asks for several images; such a model is priced per output.
COUNT_PARAMS = ("number_of_images", "n", "num_images", "num_outputs")
# Images a job returns without a count parameter; a Midjourney job returns its grid's four.
_IMAGES_PER_JOB = {"midjourney": 4}

# The emulator's own placeholder prices, in credits per image: the vendor publishes only imagen-4's
# (7, ``credit_cost`` in the catalogue), and a published price always wins. For every other model: the
# standard price of its family (the longest id prefix below that matches, else the default), times the
# percentage of every tier word in its id, rounded down, at least 1. So the fast/turbo/lite/dev tiers come
# cheaper than their family's standard and pro/ultra/quality/max dearer (flux-1.1-pro-ultra is both pro
# and ultra), and a family new to the catalogue still gets a price.
_FAMILY_PRICES = {
    "dall-e": 8,
    "dall-e-2": 4,
    "flux": 4,
    "gpt-image": 10,
    "grok": 5,
    "ideogram": 6,
    "ideogram-character": 8,
    "imagen": 7,
    "kling": 3,
    "midjourney": 8,
    "nano-banana": 6,
    "qwen": 3,
    "reve": 4,
    "seedream": 4,
    "stable-diffusion": 5,
    "wan": 4,
}
_DEFAULT_FAMILY_PRICE = 5
_TIER_PERCENT = {
    "lite": 50,
    "fast": 60,
    "turbo": 60,
    "dev": 60,
    "medium": 80,
    "large": 130,
    "pro": 150,
    "ultra": 150,
    "quality": 150,
    "max": 200,
}

# Catalogue text kept from the emulator's Imagen-only days; other models get a description made from
# their label and parameters.
_DESCRIPTIONS = {
    "imagen-3": "Google's Imagen 3 text-to-image model.",
    "imagen-3-fast": "Faster, cheaper Imagen 3.",
    "imagen-4": "Google's Imagen 4 text-to-image model.",
    "imagen-4-ultra": "Imagen 4's highest-fidelity tier.",
    "imagen-4-fast": "Faster, cheaper Imagen 4.",
}
# Words of a model id that are not spelt by capitalising their first letter.
_SPELLINGS = {"dall-e": "DALL-E", "gpt": "GPT", "lora": "LoRA"}


@dataclass(frozen=True)
class ParamsBlock:
    """A model's ``<family>Params`` object as the spec has it."""

    key: str
    # Each key's JSON schema (keywords as :mod:`.zod` checks them).
    schemas: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...]
    # The values the spec documents for keys a request leaves out.
    defaults: Mapping[str, Any]
    # Keys that take the URL of an input image.
    image_inputs: tuple[str, ...]

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Complete a validated block with the documented defaults."""
        return {**self.defaults, **given}


@dataclass(frozen=True)
class ModelSpec:
    """An image model as the emulator serves it."""

    id: str
    label: str
    description: str
    # Credits per image: the published price, else the emulator's placeholder.
    price: int
    params: ParamsBlock
    # Whether a request must carry the parameter block (for its required keys).
    block_required: bool
    prompt_max_length: int
    # The parameter asking for several images, with its largest value; None for a one-price model.
    count_param: str | None
    count_max: int
    images_per_job: int = 1
    modality: str = "image"

    @property
    def pricing_mode(self) -> str:
        """How ``GET /v2/models`` says the model is priced: ``flat`` or ``per-output``."""
        # "per-second" is the video models' mode; no image model has it.
        return "flat" if self.count_param is None else "per-output"

    def image_count(self, params: Mapping[str, Any]) -> int:
        """Return how many images a job with these (validated) parameters returns."""
        if self.count_param is None:
            return self.images_per_job
        return int(params.get(self.count_param, 1))

    def credit_cost(self, params: Mapping[str, Any]) -> int:
        """Return what a job with these (validated) parameters is charged."""
        return self.price if self.count_param is None else self.price * self.image_count(params)

    def catalogue_entry(self) -> dict[str, object]:
        """Return the model as ``GET /v2/models`` lists it."""
        return {
            "id": self.id,
            "label": self.label,
            "modality": self.modality,
            "description": self.description,
            "costMin": self.price,
            "costMax": self.price * (1 if self.count_param is None else self.count_max),
            "pricingMode": self.pricing_mode,
        }


def placeholder_price(model_id: str) -> int:
    """Return the emulator's price for a model the vendor publishes none for (see ``_FAMILY_PRICES``)."""
    families = [family for family in _FAMILY_PRICES if f"{model_id}-".startswith(f"{family}-")]
    price = _FAMILY_PRICES[max(families, key=len)] if families else _DEFAULT_FAMILY_PRICE
    percents = [_TIER_PERCENT[word] for word in model_id.split("-") if word in _TIER_PERCENT]
    # In whole numbers, so that 7 credits at 60 % is 4 however floats would round 4.2.
    return max(1, price * math.prod(percents) // 100 ** len(percents))


def label(model_id: str) -> str:
    """Make a readable name from the id: ``flux-1.1-pro`` is ``Flux 1.1 Pro``."""
    words = re.findall(r"dall-e|[^-]+", model_id)
    return " ".join(_SPELLINGS.get(word, word[:1].upper() + word[1:]) for word in words)


def _description(model_id: str, block: ParamsBlock) -> str:
    if model_id in _DESCRIPTIONS:
        return _DESCRIPTIONS[model_id]
    guided = ", also guided by input images" if block.image_inputs else ""
    return f"{label(model_id)} text-to-image model{guided}."


def _block(entry: Mapping[str, Any]) -> ParamsBlock:
    params: Mapping[str, Mapping[str, Any]] = entry["params"]
    for name, param in params.items():
        require_supported(param["schema"], f"{entry['key']}.{name}")
    return ParamsBlock(
        key=entry["key"],
        schemas={name: param["schema"] for name, param in params.items()},
        required=tuple(entry["required"]),
        defaults={name: param["default"] for name, param in params.items() if "default" in param},
        image_inputs=tuple(name for name, param in params.items() if param.get("image_input")),
    )


def _model(model_id: str, entry: Mapping[str, Any], block: ParamsBlock) -> ModelSpec:
    count_param = next((name for name in COUNT_PARAMS if name in block.schemas), None)
    published = entry.get("credit_cost")
    return ModelSpec(
        id=model_id,
        label=label(model_id),
        description=_description(model_id, block),
        price=published if published is not None else placeholder_price(model_id),
        params=block,
        block_required=entry["block_required"],
        prompt_max_length=entry.get("prompt_max_length") or DEFAULT_PROMPT_MAX_LENGTH,
        count_param=count_param,
        count_max=block.schemas[count_param].get("maximum", 1) if count_param else 1,
        images_per_job=_IMAGES_PER_JOB.get(model_id, 1),
    )


def _load() -> dict[str, ModelSpec]:
    text = resources.files(CATALOGUE_PACKAGE).joinpath(CATALOGUE_FILE).read_text("utf-8")
    catalogue = json.loads(text)
    blocks = {block_id: _block(entry) for block_id, entry in catalogue["blocks"].items()}
    return {
        model_id: _model(model_id, entry, blocks[entry["block"]])
        for model_id, entry in catalogue["models"].items()
    }


# Every model of the spec, in the catalogue's order (by id).
MODELS: Mapping[str, ModelSpec] = _load()
