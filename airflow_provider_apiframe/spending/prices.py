"""
What one job will cost at most, from the price ``GET /v2/models`` lists and the job's own options.

The listing gives each model ``costMin``, ``costMax`` and a ``pricingMode``. The spec names the fields
but not the modes' meaning, so what is read from them is *assumed* and read defensively:

- ``flat``: every job costs the same (``costMax``);
- ``per-output``: ``costMin`` buys one output, and the count option (``number_of_images``, ``n``, ...)
  multiplies it: two images of a model listed 10-100 cost 20, not 100;
- ``per-second``: ``costMin`` buys the shortest clip the model allows, so a clip costs its seconds at that
  rate: a 10 s clip of a model that makes 5-10 s clips for 40-80 credits costs 80, a 5 s one 40.

Anything else (another mode, a count or duration the catalogue cannot read, a price below the listed
minimum) falls back to ``costMax``: a limit is never checked against less than a job could cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_apiframe.catalogue.model_specs import ModelSpec, ParamSpec

# The parameters by which a request asks for several outputs (the spec's names across model families).
COUNT_PARAMS = ("number_of_images", "n", "num_images", "num_outputs")
DURATION_PARAM = "duration"


@dataclass(frozen=True)
class ListedPrice:
    """A model's price as ``GET /v2/models`` lists it."""

    cost_min: int
    cost_max: int
    mode: str

    @classmethod
    def parse(cls, entry: object) -> ListedPrice | None:
        """Read a listing entry's price; None when it has no usable one (missing, negative, min > max)."""
        if not isinstance(entry, Mapping):
            return None
        low, high, mode = _count(entry.get("costMin")), _count(entry.get("costMax")), entry.get("pricingMode")
        if low is None or high is None:
            # With one bound only, that bound is all that is known: every job is held to it.
            low = high = high if high is not None else low
        if low is None or high is None or low > high:
            return None
        return cls(cost_min=low, cost_max=high, mode=mode if isinstance(mode, str) else "")


def job_price(model: ModelSpec, listed: ListedPrice | None, options: Any) -> int | None:
    """
    Return the most one job of ``model`` with ``options`` can cost; None when no price is known.

    A price the catalogue publishes (imagen-4's 7 credits) is per job and wins over the listing.
    """
    if model.credit_cost is not None:
        return model.credit_cost
    if listed is None:
        return None
    options = options if isinstance(options, Mapping) else {}
    if listed.mode == "per-output":
        count = _option(model, options, COUNT_PARAMS)
        if count is not None:
            return _within(listed, listed.cost_min * count)
    elif listed.mode == "per-second":
        seconds = _option(model, options, (DURATION_PARAM,))
        shortest = _shortest(model)
        if seconds is not None and shortest:
            return _within(listed, math.ceil(listed.cost_min * seconds / shortest))
    elif listed.mode == "flat":
        return listed.cost_max
    return listed.cost_max


def _within(listed: ListedPrice, price: int) -> int:
    # A reading below the listed minimum means the mode was not what this module assumes.
    return price if price >= listed.cost_min else listed.cost_max


def _option(model: ModelSpec, options: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    """Return the value the job asks for of the first of ``names`` it has (else the default, else 1)."""
    spec = next((param for param in model.params if param.name in names), None)
    if spec is None:
        return 1 if names == COUNT_PARAMS else None
    value = options.get(spec.name, spec.default)
    if value is None:
        return _smallest(spec) if names != COUNT_PARAMS else 1
    return _count(value) or None


def _shortest(model: ModelSpec) -> int | None:
    spec = next((param for param in model.params if param.name == DURATION_PARAM), None)
    return _smallest(spec) if spec is not None else None


def _smallest(spec: ParamSpec) -> int | None:
    """Return the least value a numeric parameter allows (its ``minimum``, or least enumerated value)."""
    schema = spec.schema
    values = [
        number
        for option in (schema.get("anyOf") or [schema])
        if isinstance(option, Mapping)
        for value in (*option.get("enum", ()), option.get("minimum"))
        if (number := _count(value))
    ]
    return min(values) if values else None


def _count(value: object) -> int | None:
    """``value`` as a whole number >= 0 (JSON numbers may arrive as 6.0); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        return None
    return int(value)
