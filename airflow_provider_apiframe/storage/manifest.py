"""
The manifest of a stored data set: Hugging Face folder-dataset metadata (``imagefolder``, ``videofolder``).

How a training pipeline loads a data set is in ``data_set.py``.

A data set is a folder of parts, one per writer: ``<data set>/part-<16 hex>/`` holds that writer's files
(images, videos, audio) and its own ``metadata.jsonl``, one JSON row per file whose ``file_name`` is
relative to that file. ``datasets`` reads every ``metadata.jsonl`` under ``data_dir``, each as a shard,
and resolves each row's ``file_name`` against its own file's folder
(``packaged_modules/folder_based_builder``, datasets 3 to 5). So a writer only ever rewrites its own part's
file: writers running at once (mapped task instances) cannot lose one another's rows, and a reader sees
each part's file whole, before or after a rewrite.

``datasets`` takes the columns' types from the first metadata file it happens to read and casts the others
to them: a column that is null there fails the load where another part has a value, and a struct column
whose keys differ between parts silently drops the keys that first file lacks. So every row of every part
has every column, never null, always of one type: ``options`` (the model's parameter block, whose keys
differ by model and by what was asked) is a JSON string, and what is unknown is ``""``, ``0`` or ``0.0``.

The columns ``kind``, ``content_type`` and ``duration`` came with videos and audio. A part written before
them is still read: its rows are images (all that was kept then), so they get ``image``, the content type
their extension names, and ``0.0``; rewriting the part (storing into it again, or ``upgrade_manifests``)
writes every column.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from airflow import __version__ as airflow_version

from airflow_provider_apiframe.storage.media_type import CONTENT_TYPES

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.utils.logs import Log

_AIRFLOW_2 = airflow_version.startswith("2.")
METADATA_FILE = "metadata.jsonl"
PART_PREFIX = "part-"


# The columns added with videos and audio: a row written before them has none of them (see parse_line).
ADDED_COLUMNS = ("kind", "content_type", "duration")
_COLUMN_TYPES = {"int": int, "str": str, "float": float}


@dataclass(frozen=True)
class ManifestRow:
    """One file of the data set (an image, a video or audio), as its part's ``metadata.jsonl`` holds it."""

    file_name: str
    # The batch row's id as a string; "" for an image that came from a job id alone.
    id: str
    job_id: str
    prompt: str
    model: str
    # The parameter block sent (e.g. imagenParams), as JSON: json.loads(row["options"]).
    options: str
    source_url: str
    sha256: str
    # Pixels; 0 for audio and where the file does not say.
    width: int
    height: int
    bytes: int
    # The job's credit cost, shared by all of its images; 0 when the API did not say.
    credits: int
    # When the job was created, ISO 8601 in UTC.
    created_at: str
    # "image", "video" or "audio", and the content type, both from the file's bytes.
    kind: str
    content_type: str
    # Seconds, always a float (one type per column); 0.0 for images and where the file does not say.
    duration: float

    def __post_init__(self) -> None:
        # JSON has no NaN or infinity, and pyarrow types a column of 5 and 5.0 apart: always a finite float.
        try:
            duration = float(self.duration)
        except OverflowError:  # a whole number too large for a float, from a hand edit
            duration = 0.0
        object.__setattr__(self, "duration", duration if math.isfinite(duration) else 0.0)

    def to_line(self) -> str:
        """Write the row as one line of JSON."""
        return json.dumps(asdict(self), ensure_ascii=False) + "\n"

    @classmethod
    def from_line(cls, line: str) -> ManifestRow:
        """Read a row this module wrote (now or before videos); ValueError or a subclass for anything else."""
        return parse_line(line)[0]


def parse_line(line: str) -> tuple[ManifestRow, bool]:
    """
    Read one manifest line, and whether it was written before the columns ``ADDED_COLUMNS``.

    Such a line lacks all of them and gets what they were then; a line with some but not all of them, or
    with a value of the wrong type, is no line this module wrote: ValueError (or a subclass).
    """
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    missing = [column for column in ADDED_COLUMNS if column not in data]
    outdated = len(missing) == len(ADDED_COLUMNS)
    if outdated:
        file_name = data.get("file_name")
        extension = file_name.rpartition(".")[2].lower() if isinstance(file_name, str) else ""
        data = {**data, "kind": "image", "content_type": CONTENT_TYPES.get(extension, ""), "duration": 0.0}
    values: dict[str, Any] = {}
    for column in fields(ManifestRow):
        value = data.get(column.name)
        # Annotations are strings here (postponed evaluation): "int", "str" or "float".
        expected = _COLUMN_TYPES[str(column.type)]
        # A float column takes a whole number too (a hand edit's 5 for 5.0); a bool is no number.
        allowed = (int, float) if expected is float else expected
        if not isinstance(value, allowed) or isinstance(value, bool):
            raise ValueError(f"column {column.name!r} is {value!r}, not {expected.__name__}")
        values[column.name] = value
    return ManifestRow(**values), outdated


def part_name(writer: str) -> str:
    """
    Return the folder name of one writer's part.

    Hex only: ``datasets`` reads split names (train, test, dev, val, eval and more) into folder names, so a
    part named after a DAG, run or task could become a split of its own.
    """
    return PART_PREFIX + hashlib.sha256(writer.encode()).hexdigest()[:16]


def child(path: ObjectStoragePath, name: str) -> ObjectStoragePath:
    """
    Return ``path / name``.

    Airflow 2's ``/`` passes the parent through ``os.fspath``, which universal-pathlib deprecates for remote
    paths (it is to become None there); built from the parent's URL it is not.
    """
    if _AIRFLOW_2:
        return path.with_segments(str(path), name)
    return path / name


def temporary_beside(path: ObjectStoragePath) -> ObjectStoragePath:
    """
    Return a unique name in ``path``'s folder to write to before moving it onto ``path``.

    The leading dot hides it from ``datasets``, which skips hidden files, should a load run while it is
    being written.
    """
    return child(path.parent, f".{path.name}.{uuid.uuid4().hex}.tmp")


@dataclass(frozen=True)
class Manifest:
    """A part's manifest as read: its rows by file name, and whether any row lacks a column."""

    rows: dict[str, ManifestRow]
    outdated: bool = False


def read_manifest(part: ObjectStoragePath, log: Log) -> dict[str, ManifestRow]:
    """Read the rows of a part's manifest by file name; none when it has no manifest yet."""
    return read_part(part, log).rows


def read_part(part: ObjectStoragePath, log: Log) -> Manifest:
    """Read a part's manifest, rows written before the newest columns included (see ``parse_line``)."""
    where = child(part, METADATA_FILE)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Manifest({})
    rows = {}
    outdated = False
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            row, old = parse_line(line)
        except ValueError as error:
            # Only an outside edit makes such a line: its file, if any, is looked at again as unrecorded.
            log.warning("Ignoring line %d of %s: %s", number, where, error)
            continue
        outdated = outdated or old
        rows[row.file_name] = row
    return Manifest(rows, outdated)


def write_manifest(part: ObjectStoragePath, rows: Iterable[ManifestRow]) -> ObjectStoragePath:
    """Replace the part's manifest in one move, so that a reader never sees half of it."""
    target = child(part, METADATA_FILE)
    temporary = temporary_beside(target)
    try:
        # The filesystem's own file, not the path's: a temporary file is no lineage output.
        with temporary.fs.open(temporary.path, "wb") as out:
            out.write("".join(row.to_line() for row in rows).encode("utf-8"))
        temporary.rename(target)
    except BaseException:
        discard(temporary)
        raise
    return target


def discard(path: ObjectStoragePath) -> None:
    """Remove a file that may or may not exist (``unlink``'s ``missing_ok`` differs between path classes)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
