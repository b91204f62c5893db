"""
The emulator's placeholder prices, for every model and action the vendor publishes no price for.

The vendor publishes only imagen-4's (7 credits, ``credit_cost`` in the catalogue), and a published price
always wins. For every other model or action: the standard price of its family on its endpoint (the
longest id prefix of that endpoint's table below that matches, else the endpoint's default), times the
percentage of every tier word in its id, rounded down, at least 1. So the fast/turbo/lite/dev tiers come
cheaper than their family's standard and pro/ultra/quality/max dearer (flux-1.1-pro-ultra is both pro and
ultra), and a family new to the catalogue still gets a price.

What the price counts differs by endpoint:

- images: credits per image (a model with a count parameter is charged per image asked for);
- image upscaling, background removal and editing: credits per job, about what a generation costs
  (upscalers dearer, background removal cheap);
- Midjourney actions: an upsample half a grid, every action that makes a new grid a grid's price;
- videos: credits per second of video (``per-second``), a video's price its rate times its duration; a
  model with no duration parameter is charged for :data:`DEFAULT_CLIP_SECONDS`; upscaling a video is a
  flat price per job;
- music: credits per call (Suno and Udio deliver two songs for it), per song for a model that takes a
  count (Mureka's ``n``); a Suno action costs what a Suno call does, stems half of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# A video model without a duration parameter makes clips of about this length, and is charged for it.
DEFAULT_CLIP_SECONDS = 5

_IMAGE_FAMILIES = {
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
# Per endpoint: the family prices, and the price of a family the table does not name.
_FAMILY_PRICES: Mapping[str, tuple[Mapping[str, int], int]] = {
    "/v2/images/generate": (_IMAGE_FAMILIES, 5),
    "/v2/images/edit": ({"flux-fill": 5}, 5),
    "/v2/images/upscale": ({"topaz": 8, "clarity": 6}, 6),
    "/v2/images/background-remove": ({"bria": 2, "851": 1}, 2),
    "/v2/images/midjourney/action": ({"upsample": 4}, 8),
    # Credits per second of video.
    "/v2/videos/generate": (
        {
            "grok": 8,
            "hailuo": 8,
            "happyhorse": 5,
            "kling": 10,
            "luma": 10,
            "midjourney": 6,
            "runway": 10,
            "seedance": 6,
            "sora": 15,
            "veo": 20,
            "wan": 6,
        },
        8,
    ),
    "/v2/videos/edit": ({"wan": 8}, 8),
    "/v2/videos/upscale": ({"topaz": 40}, 40),
    "/v2/music/generate": (
        {"elevenlabs": 8, "lyria": 6, "mureka": 6, "producer": 8, "suno": 10, "udio": 10},
        8,
    ),
    "/v2/music/suno/action": ({"stems": 5}, 10),
}
_TIER_PERCENT = {
    "mini": 40,
    "lite": 50,
    "flash": 50,
    "clip": 50,
    "fast": 60,
    "turbo": 60,
    "dev": 60,
    "medium": 80,
    "large": 130,
    "pro": 150,
    "ultra": 150,
    "quality": 150,
    "max": 200,
    "master": 200,
}


def placeholder_price(model_id: str, operation: str = "/v2/images/generate") -> int:
    """Return the emulator's price for a model (or action) of ``operation`` the vendor publishes none for."""
    families, default = _FAMILY_PRICES.get(operation, ({}, 5))
    matching = [family for family in families if f"{model_id}-".startswith(f"{family}-")]
    price = families[max(matching, key=len)] if matching else default
    percents = [_TIER_PERCENT[word] for word in model_id.split("-") if word in _TIER_PERCENT]
    # In whole numbers, so that 7 credits at 60 % is 4 however floats would round 4.2.
    return max(1, price * math.prod(percents) // 100 ** len(percents))
