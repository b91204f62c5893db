"""
The manifest of a stored data set: Hugging Face ``imagefolder`` metadata.

A training pipeline loads it as it is with ``datasets.load_dataset("imagefolder", data_dir=<data set>)``.

A data set is a folder of parts, one per writer: ``<data set>/part-<16 hex>/`` holds that writer's images
and its own ``metadata.jsonl``, one JSON row per image whose ``file_name`` is relative to that file.
``datasets`` reads every ``metadata.jsonl`` under ``data_dir``, each as a shard, and resolves each row's
``file_name`` against its own file's folder (``packaged_modules/folder_based_builder``, datasets 3 to 5).
So a writer only ever rewrites its own part's file: writers running at once (mapped task instances) cannot
lose one another's rows, and a reader sees each part's file whole, before or after a rewrite.

``datasets`` takes the columns' types from the first metadata file it happens to read and casts the others
to them: a column that is null there fails the load where another part has a value, and a struct column
whose keys differ between parts silently drops the keys that first file lacks. So every row of every part
has every column, never null, always of one type: ``options`` (the model's parameter block, whose keys
differ by model and by what was asked) is a JSON string, and what is unknown is ``""`` or ``0``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from airflow import __version__ as airflow_version

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.utils.logs import Log

_AIRFLOW_2 = airflow_version.startswith("2.")
METADATA_FILE = "metadata.jsonl"
PART_PREFIX = "part-"


@dataclass(frozen=True)
class ManifestRow:
    """One image of the data set, as its part's ``metadata.jsonl`` holds it."""

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
    width: int
    height: int
    bytes: int
    # The job's credit cost, shared by all of its images; 0 when the API did not say.
    credits: int
    # When the job was created, ISO 8601 in UTC.
    created_at: str

    def to_line(self) -> str:
        """Write the row as one line of JSON."""
        return json.dumps(asdict(self), ensure_ascii=False) + "\n"

    @classmethod
    def from_line(cls, line: str) -> ManifestRow:
        """Read a row this module wrote; ValueError (or a subclass) for anything else."""
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        values: dict[str, Any] = {}
        for column in fields(cls):
            value = data.get(column.name)
            # Annotations are strings here (postponed evaluation): "int" or "str".
            expected = int if column.type == "int" else str
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValueError(f"column {column.name!r} is {value!r}, not {expected.__name__}")
            values[column.name] = value
        return cls(**values)


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


def read_manifest(part: ObjectStoragePath, log: Log) -> dict[str, ManifestRow]:
    """Read the rows of a part's manifest by file name; none when it has no manifest yet."""
    try:
        text = child(part, METADATA_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    rows = {}
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            row = ManifestRow.from_line(line)
        except ValueError as error:
            # Only an outside edit makes such a line: its image, if any, is looked at again as unrecorded.
            log.warning("Ignoring line %d of %s: %s", number, child(part, METADATA_FILE), error)
            continue
        rows[row.file_name] = row
    return rows


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
