"""
The API's job operations as data: where each is sent, how its body is built and checked, what it returns.

The hook, the triggers and the operator bases handle any operation through this description and hold no
operation-specific branch: adding one of the API's endpoints is one ``Operation`` here (with its models
in the catalogue), plus, at most, a thin operator face with the arguments its users expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_apiframe.exceptions import ApiframeValidationError, shown

if TYPE_CHECKING:
    from airflow_provider_apiframe.catalogue.model_specs import ModelSpec

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
    :param arguments: Top-level fields the operator takes as arguments of their own, by field name (the
        action endpoints' ``parentJobId`` is ``parent_job_id``).
    :param discriminator: The body key that names the model: ``model``, or ``action`` for the action
        endpoints, whose other fields sit at the top level and are given in ``options``.
    """

    name: str
    path: str
    modality: str
    result: ResultKind
    options_argument: str = "options"
    arguments: Mapping[str, str] = field(default_factory=dict)
    discriminator: str = "model"

    def model(self, model_id: Any) -> ModelSpec:
        """Look up a model (or action) of this operation; an unknown one is a validation error naming it."""
        # Imported here, like the catalogue it reads: a DAG file's import pays for neither.
        from airflow_provider_apiframe.catalogue.model_specs import get_model

        return get_model(model_id, self.path)

    def model_ids(self) -> tuple[str, ...]:
        """Every model (or action) of this operation."""
        from airflow_provider_apiframe.catalogue.model_specs import model_ids

        return model_ids(self.path)

    def request_body(self, request: JobRequest) -> dict[str, Any]:
        """Check the request as the API would and build the body to send; nothing is spent on a bad one."""
        return self.model(request.model).request_body(request.prompt, request.options)

    def argument_for(self, path: str) -> str:
        """Name the operator argument that holds the API's field ``path`` (``fluxParams.width``)."""
        block, _, key = path.partition(".")
        if block.endswith("Params"):
            return f"{self.options_argument}[{key!r}]" if key else self.options_argument
        if path in self.arguments:
            return self.arguments[path]
        if self.discriminator == "action" and block not in ("action", "options", ""):
            return f"{self.options_argument}[{block!r}]{path[len(block) :]}"
        return path


IMAGE_GENERATION = Operation(
    name="image generation",
    path="/v2/images/generate",
    modality="image",
    result="images",
    options_argument="image_options",
)
IMAGE_EDIT = Operation(name="image edit", path="/v2/images/edit", modality="image", result="images")
IMAGE_UPSCALE = Operation(name="image upscale", path="/v2/images/upscale", modality="image", result="images")
BACKGROUND_REMOVAL = Operation(
    name="background removal", path="/v2/images/background-remove", modality="image", result="images"
)
VIDEO_GENERATION = Operation(
    name="video generation", path="/v2/videos/generate", modality="video", result="videos"
)
VIDEO_EDIT = Operation(name="video edit", path="/v2/videos/edit", modality="video", result="videos")
VIDEO_UPSCALE = Operation(name="video upscale", path="/v2/videos/upscale", modality="video", result="videos")
MUSIC_GENERATION = Operation(
    name="music generation", path="/v2/music/generate", modality="music", result="audio"
)
SUNO_ACTION = Operation(
    name="Suno action",
    path="/v2/music/suno/action",
    modality="music",
    result="audio",
    arguments={"parentJobId": "parent_job_id", "index": "index", "trackId": "track_id"},
    discriminator="action",
)
MIDJOURNEY_ACTION = Operation(
    name="Midjourney action",
    path="/v2/images/midjourney/action",
    modality="image",
    result="images",
    arguments={"parentJobId": "parent_job_id", "index": "index"},
    discriminator="action",
)


def options_of(request: JobRequest) -> Mapping[str, Any]:
    """Return the request's option block as sent (empty where none was given)."""
    return dict(request.options) if isinstance(request.options, Mapping) else {}


# Every job operation, for the operators that take one by name.
OPERATIONS = (
    IMAGE_GENERATION,
    IMAGE_EDIT,
    IMAGE_UPSCALE,
    BACKGROUND_REMOVAL,
    MIDJOURNEY_ACTION,
    VIDEO_GENERATION,
    VIDEO_EDIT,
    VIDEO_UPSCALE,
    MUSIC_GENERATION,
    SUNO_ACTION,
)


def operation_for(value: Any) -> Operation:
    """Look up an operation by its endpoint (``/v2/images/upscale``) or its name (``image upscale``)."""
    for operation in OPERATIONS:
        if value in (operation.path, operation.name):
            return operation
    known = ", ".join(f"{operation.name} ({operation.path})" for operation in OPERATIONS)
    raise ApiframeValidationError(
        "Unknown operation", details={"operation": [f"got {shown(value)}, known operations are {known}"]}
    )
