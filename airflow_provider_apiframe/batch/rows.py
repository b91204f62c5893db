"""
A batch's rows, each read into one checked request before anything is spent.

What the caller gave becomes one ``Row`` per item, which also names the row each result belongs to: for
an operation with a prompt, prompt strings or dicts with a prompt, an id and options; for any other, dicts
of options with an id, or the values of its main input (an image to upscale, a video to edit).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_apiframe.exceptions import ApiframeValidationError, shown

if TYPE_CHECKING:
    from airflow_provider_apiframe.catalogue.model_specs import ModelSpec

MAX_ROWS = 10_000
# A bad batch names this many bad rows, then how many more there are: enough to fix, not a wall of text.
ERRORS_SHOWN = 20
ROW_ID_TYPES = (str, int)
# A row id names the row in results, errors and idempotency keys: a label, not a payload.
MAX_ROW_ID_LENGTH = 200


@dataclass(frozen=True)
class Row:
    """One generation of a batch: where it stands in the input, the caller's id, and what to send."""

    index: int
    id: str | int | None
    # None for an operation whose body has no top-level prompt.
    prompt: str | None
    # The block as checked: a file given as an input stands in it as its placeholder URL.
    options: Mapping[str, Any]

    @property
    def label(self) -> str:
        """Name the row as errors and logs do: its place, and its id where it has one."""
        return f"row {self.index}" if self.id is None else f"row {self.index} (id {self.id!r})"

    @property
    def identity(self) -> str | int:
        """What names the row across tries: the caller's id if given (stable if rows move), else its index."""
        return self.index if self.id is None else f"id:{self.id}"


def read_rows(
    items: Any,
    model: ModelSpec,
    defaults: Mapping[str, Any],
    *,
    argument: str = "prompts",
    main_input: str | None = None,
    resolve: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> list[Row]:
    """
    Read every row of ``items`` into a checked ``Row``; one error naming each bad row and field otherwise.

    For a model with a top-level prompt a row is a prompt string, or a dict with ``prompt``; for any other
    it is a dict of the model's options, or a value of ``main_input`` (a URL, a path). A dict may also
    hold an ``id`` (string or integer, unique in the batch) and options that override ``defaults`` for
    that row. ``resolve`` stands each row's files in as placeholder URLs before the checks (see
    ``storage.inputs``); ``argument`` names the operator argument in errors.
    """
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise ApiframeValidationError(
            f"Invalid {argument}",
            details={argument: [f"must be a list of rows, got {type(items).__name__}"]},
        )
    if not 1 <= len(items) <= MAX_ROWS:
        raise ApiframeValidationError(
            f"Invalid {argument}",
            details={argument: [f"must hold 1 to {MAX_ROWS} rows, got {len(items)}"]},
        )
    rows: list[Row] = []
    errors: dict[str, list[str]] = {}
    # By the id's text: 1 and "1" name one row (and would share its idempotency key).
    seen_ids: dict[str, Row] = {}
    for index, item in enumerate(items):
        try:
            row = _read_row(index, item, model, defaults, main_input, resolve)
        except ApiframeValidationError as error:
            for path, messages in (error.details or {"": [str(error)]}).items():
                errors[f"{_row_path(index, item)}{'.' + path if path else ''}"] = messages
            continue
        if row.id is not None:
            if (first := seen_ids.get(str(row.id))) is not None:
                errors[f"{_row_path(index, item)}.id"] = [
                    f"{row.id!r} is also the id of row {first.index} ({first.id!r}): ids are compared as text"
                ]
                continue
            seen_ids[str(row.id)] = row
        rows.append(row)
    if errors:
        listed = dict(list(errors.items())[:ERRORS_SHOWN])
        more = len(errors) - len(listed)
        if more:
            listed["..."] = [f"and {more} more"]
        raise ApiframeValidationError(
            f"{len({path.split(']')[0] for path in errors})} of {len(items)} rows are invalid",
            details=listed,
        )
    return rows


def _row_path(index: int, item: Any) -> str:
    """Name a row as errors do: its place, and the id the user gave it where it has a readable one."""
    try:
        row_id = _row_id(item.get("id")) if isinstance(item, Mapping) else None
    except ApiframeValidationError:
        row_id = None
    return f"rows[{index}]" if row_id is None else f"rows[{index}] (id {row_id!r})"


def _read_row(
    index: int,
    item: Any,
    model: ModelSpec,
    defaults: Mapping[str, Any],
    main_input: str | None,
    resolve: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None,
) -> Row:
    if isinstance(item, str) and model.takes_prompt:
        row = Row(index, None, item, dict(defaults))
    elif isinstance(item, Mapping):
        unknown_type = [shown(key, 40) for key in item if not isinstance(key, str)]
        if unknown_type:
            raise ApiframeValidationError(
                "Invalid row", details={"": [f"keys must be strings, got {', '.join(unknown_type)}"]}
            )
        row_id = _row_id(item.get("id"))
        own = ("prompt", "id") if model.takes_prompt else ("id",)
        options = {**defaults, **{k: v for k, v in item.items() if k not in own}}
        row = Row(index, row_id, item.get("prompt") if model.takes_prompt else None, options)
    elif main_input is not None and isinstance(item, str | os.PathLike):
        row = Row(index, None, None, {**defaults, main_input: item})
    else:
        wanted = "a prompt string or a dict with 'prompt'" if model.takes_prompt else "a dict of options"
        if main_input is not None and not model.takes_prompt:
            wanted += f", or its {main_input} (a URL or a path)"
        raise ApiframeValidationError(
            "Invalid row", details={"": [f"must be {wanted}, got {type(item).__name__}"]}
        )
    if resolve is not None:
        row = Row(row.index, row.id, row.prompt, resolve(row.options))
    model.request_body(row.prompt, row.options)  # every check the API would make, before any spend
    return row


def _row_id(row_id: Any) -> str | int | None:
    """Return the row's id, if it is a string or an integer of at most ``MAX_ROW_ID_LENGTH`` characters."""
    if row_id is None:
        return None
    if isinstance(row_id, bool) or not isinstance(row_id, ROW_ID_TYPES):
        problem = f"must be a string or an integer, got {shown(row_id, 40)}"
    elif _too_long(row_id):
        problem = f"must be at most {MAX_ROW_ID_LENGTH} characters, got {shown(row_id, 40)}"
    else:
        return row_id
    raise ApiframeValidationError("Invalid row id", details={"id": [problem]})


def _too_long(row_id: str | int) -> bool:
    if isinstance(row_id, str):
        return len(row_id) > MAX_ROW_ID_LENGTH
    # Measured without str(), which refuses an int of thousands of digits; a minus sign is one character.
    return not -(10 ** (MAX_ROW_ID_LENGTH - 1)) < row_id < 10**MAX_ROW_ID_LENGTH


def short_digest(key: str) -> str:
    """Shorten an idempotency key to a stand-in, where thousands of them are stored."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]
