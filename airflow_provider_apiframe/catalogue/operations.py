"""
The API's job operations as data: where each is sent, how its body is built and checked, what it returns.

The hook, the triggers and the operator bases handle any operation through this description and hold no
operation-specific branch: adding one of the API's endpoints is one ``Operation`` here (with its models
in the catalogue), plus, at most, a thin operator face with the arguments its users expect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_apiframe.catalogue.image_models import ImageModel, get_model

# What a job's result holds, and so what a task returns and stores.
ResultKind = Literal["images", "videos", "audio", "lora"]


@dataclass(frozen=True)
class JobRequest:
    """What one job is asked for: the model, its prompt (if the operation takes one) and its option block."""

    model: Any
    options: Any
    prompt: Any = None


@dataclass(frozen=True)
class Operation:
    """
    One job operation of the API.

    :param name: What the operation does, as logs and errors say it ("image generation").
    :param path: The endpoint a job is submitted to.
    :param modality: The ``modality`` under which ``GET /v2/models`` lists its models and prices.
    :param result: What a finished job's result holds.
    :param options_argument: The operator argument that holds the model's parameter block, so that an
        error about ``fluxParams.width`` names ``image_options['width']``.
    :param models: The catalogue's lookup of a model id (a typed error naming ``model`` if unknown).
    """

    name: str
    path: str
    modality: str
    result: ResultKind
    options_argument: str
    models: Callable[[Any], ImageModel]

    def model(self, model_id: Any) -> ImageModel:
        """Look up a model of this operation; an unknown one is a validation error naming ``model``."""
        return self.models(model_id)

    def request_body(self, request: JobRequest) -> dict[str, Any]:
        """Check the request as the API would and build the body to send; nothing is spent on a bad one."""
        return self.model(request.model).request_body(request.prompt, request.options)

    def argument_for(self, path: str) -> str:
        """Name the operator argument that holds the API's field ``path`` (``fluxParams.width``)."""
        block, _, key = path.partition(".")
        if block.endswith("Params"):
            return f"{self.options_argument}[{key!r}]" if key else self.options_argument
        return path


IMAGE_GENERATION = Operation(
    name="image generation",
    path="/v2/images/generate",
    modality="image",
    result="images",
    options_argument="image_options",
    models=get_model,
)


def options_of(request: JobRequest) -> Mapping[str, Any]:
    """Return the request's option block as sent (empty where none was given)."""
    return dict(request.options) if isinstance(request.options, Mapping) else {}
