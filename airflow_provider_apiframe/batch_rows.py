"""
A batch's rows: what the caller gave (strings, or dicts with a prompt, an id and image options), read
into one checked request per row before anything is spent, and the row each result belongs to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.models import ImageModel

MAX_ROWS = 10_000
# A bad batch names this many bad rows, then how many more there are: enough to fix, not a wall of text.
ERRORS_SHOWN = 20
ROW_ID_TYPES = (str, int)


@dataclass(frozen=True)
class Row:
    """One generation of a batch: where it stands in the input, the caller's id, and what to send."""

    index: int
    id: str | int | None
    prompt: str
    options: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"row {self.index}" if self.id is None else f"row {self.index} (id {self.id!r})"

    @property
    def identity(self) -> str | int:
        """What names the row across tries: the caller's id if given (stable if rows move), else its index."""
        return self.index if self.id is None else f"id:{self.id}"


def read_rows(prompts: Any, model: ImageModel, defaults: Mapping[str, Any]) -> list[Row]:
    """
    Every row of ``prompts`` as a checked ``Row``; one error naming each bad row and field otherwise.

    A row is a prompt string, or a dict with ``prompt``, an optional ``id`` (string or integer, unique in
    the batch) and any of the model's image options, which override ``defaults`` for that row.
    """
    if isinstance(prompts, str | bytes | Mapping) or not isinstance(prompts, Sequence):
        raise ApiframeValidationError(
            "Invalid prompts",
            details={"prompts": [f"must be a list of prompts or rows, got {type(prompts).__name__}"]},
        )
    if not 1 <= len(prompts) <= MAX_ROWS:
        raise ApiframeValidationError(
            "Invalid prompts",
            details={"prompts": [f"must hold 1 to {MAX_ROWS} rows, got {len(prompts)}"]},
        )
    rows: list[Row] = []
    errors: dict[str, list[str]] = {}
    seen_ids: dict[str | int, int] = {}
    for index, item in enumerate(prompts):
        try:
            row = _read_row(index, item, model, defaults)
        except ApiframeValidationError as error:
            for path, messages in (error.details or {"": [str(error)]}).items():
                errors[f"rows[{index}]{'.' + path if path else ''}"] = messages
            continue
        if row.id is not None:
            if row.id in seen_ids:
                errors[f"rows[{index}].id"] = [f"{row.id!r} is also the id of row {seen_ids[row.id]}"]
                continue
            seen_ids[row.id] = index
        rows.append(row)
    if errors:
        shown = dict(list(errors.items())[:ERRORS_SHOWN])
        more = len(errors) - len(shown)
        if more:
            shown["..."] = [f"and {more} more"]
        raise ApiframeValidationError(
            f"{len({path.split(']')[0] for path in errors})} of {len(prompts)} rows are invalid",
            details=shown,
        )
    return rows


def _read_row(index: int, item: Any, model: ImageModel, defaults: Mapping[str, Any]) -> Row:
    if isinstance(item, str):
        row = Row(index, None, item, dict(defaults))
    elif isinstance(item, Mapping):
        unknown_type = [key for key in item if not isinstance(key, str)]
        if unknown_type:
            raise ApiframeValidationError(
                "Invalid row", details={"": [f"keys must be strings: {unknown_type}"]}
            )
        row_id = item.get("id")
        if row_id is not None and (isinstance(row_id, bool) or not isinstance(row_id, ROW_ID_TYPES)):
            raise ApiframeValidationError(
                "Invalid row id", details={"id": [f"must be a string or an integer, got {row_id!r}"]}
            )
        options = {**defaults, **{k: v for k, v in item.items() if k not in ("prompt", "id")}}
        row = Row(index, row_id, item.get("prompt"), options)  # type: ignore[arg-type]
    else:
        raise ApiframeValidationError(
            "Invalid row",
            details={"": [f"must be a prompt string or a dict with 'prompt', got {type(item).__name__}"]},
        )
    model.request_body(row.prompt, row.options)  # every check the API would make, before any spend
    return row


def short_digest(key: str) -> str:
    """A short stand-in for an idempotency key, where thousands of them are stored."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]
