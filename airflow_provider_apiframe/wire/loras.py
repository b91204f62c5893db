"""
The API's LoRAs (``/v2/loras``): a training's form, a LoRA as the API describes it, a page of them.

Everything here is read from untrusted answers: an item that is not a LoRA is skipped on a page and a
typed error for a single answer, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from airflow_provider_apiframe.exceptions import ApiframeUnexpectedResponseError, shown
from airflow_provider_apiframe.utils.ids import is_uuid
from airflow_provider_apiframe.wire.multipart import FileToUpload, FormField, FormFile, FormPart
from airflow_provider_apiframe.wire.transport import ApiRequest

LORAS_PATH = "/v2/loras"
# The largest page the API gives; a name is looked for on at most this many of them.
PAGE_LIMIT = 100
MAX_PAGES = 100


class LoraStatus(StrEnum):
    """Where a LoRA's training stands."""

    PENDING = "PENDING"
    UPLOADING = "UPLOADING"
    TRAINING = "TRAINING"
    READY = "READY"
    FAILED = "FAILED"
    ARCHIVED = "ARCHIVED"

    @property
    def is_training(self) -> bool:
        """Whether the training has not ended yet."""
        return self in (LoraStatus.PENDING, LoraStatus.UPLOADING, LoraStatus.TRAINING)


@dataclass(frozen=True)
class Lora:
    """A LoRA as the API describes it, in the fields the provider reads."""

    id: str
    name: str
    status: LoraStatus
    trigger_word: str | None = None
    error: str | None = None

    def as_result(self) -> dict[str, Any]:
        """Return the LoRA as a task returns it: plain JSON, named as the API names its fields."""
        return {
            "id": self.id,
            "name": self.name,
            "triggerWord": self.trigger_word,
            "status": self.status.value,
        }


@dataclass(frozen=True)
class TrainingRequest:
    """
    What a training is asked for, checked: its images and its fields as the form sends them.

    :param images: The training images, each sent as a part ``images``.
    :param fields: The text fields (``name``, ``subjectKind``, ``steps``, ...), only those given.
    """

    images: Sequence[FileToUpload]
    fields: Mapping[str, str]

    def form(self) -> tuple[FormPart, ...]:
        """Return the multipart form: the fields, then every image."""
        return (
            *(FormField(name, value) for name, value in self.fields.items()),
            *(FormFile("images", image) for image in self.images),
        )


def parse_lora(answer: Any) -> Lora:
    """Read a LoRA; an ``ApiframeUnexpectedResponseError`` when it has no id, name or known status."""
    if not isinstance(answer, Mapping):
        raise ApiframeUnexpectedResponseError(f"The LoRA answer is not a JSON object: {shown(answer)}")
    lora_id, name, status = answer.get("id"), answer.get("name"), answer.get("status")
    if not isinstance(lora_id, str) or not is_uuid(lora_id):
        raise ApiframeUnexpectedResponseError(f"The LoRA answer has no id: {shown(answer)}")
    try:
        parsed_status = LoraStatus(str(status))
    except ValueError:
        raise ApiframeUnexpectedResponseError(
            f"The LoRA {lora_id} has an unknown status: {shown(status)}"
        ) from None
    trigger, error = answer.get("triggerWord"), answer.get("error")
    return Lora(
        id=lora_id,
        name=name if isinstance(name, str) else "",
        status=parsed_status,
        trigger_word=trigger if isinstance(trigger, str) else None,
        error=error if isinstance(error, str) else (None if error is None else shown(error)),
    )


def parse_lora_page(answer: Any) -> tuple[list[Lora], str | None]:
    """Read a page of LoRAs and the next page's cursor (None on the last); items not LoRAs are skipped."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("items"), list):
        raise ApiframeUnexpectedResponseError(f"The page of LoRAs has no items: {shown(answer)}")
    loras = []
    for item in answer["items"]:
        try:
            loras.append(parse_lora(item))
        except ApiframeUnexpectedResponseError:
            continue
    cursor = answer.get("nextCursor")
    return loras, cursor if isinstance(cursor, str) and is_uuid(cursor) else None


def lora_request(lora_id: str, method: str = "GET") -> ApiRequest:
    """Build a request about one LoRA: read it, or (``DELETE``, idempotent by the spec) archive it."""
    return ApiRequest(method, f"{LORAS_PATH}/{quote(lora_id, safe='')}", free_to_resend=method == "DELETE")


def created_id(answer: Any) -> str:
    """Read the id of the LoRA a training created (its 202 answer)."""
    lora_id = answer.get("id") if isinstance(answer, Mapping) else None
    if not isinstance(lora_id, str) or not is_uuid(lora_id):
        raise ApiframeUnexpectedResponseError(f"The training's answer names no LoRA: {shown(answer)}")
    return lora_id
