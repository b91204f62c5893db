"""
A data set's folder on any object storage, and what loads it.

A data set is ``<folder>/part-<16 hex>/``, one part per writer, each with its files and its
``metadata.jsonl`` (``manifest.py``). How to load one, as checked with ``datasets`` 5.2 by
``tests/storage/test_data_set_loading.py``:

- Images only (every data set stored before videos and audio): as it is, with
  ``datasets.load_dataset("imagefolder", data_dir=<folder>)``: an ``image`` column and every other column.
- The images of a data set that also holds videos or audio: the same with
  ``filters=[("kind", "==", "image")]``. Without the filter ``imagefolder`` lists every row (it reads the
  manifests, not the extensions) and fails on the first video or song it decodes as an image.
- Videos: ``datasets.load_dataset("videofolder", data_dir=<folder>, filters=[("kind", "==", "video")])``.
  Decoding its ``video`` column needs ``torchcodec`` (and FFmpeg), which this provider does not install;
  without it, ``.cast_column("video", datasets.Video(decode=False))`` gives each file's ``path``.
- Audio: ``audiofolder`` needs ``torchcodec`` even to build the table (``datasets.Audio`` imports it to
  encode a path), so without it the load fails. ``read_data_set`` here reads any data set on any storage
  with no decoder and no ``datasets``: each file's path with its manifest row, ``kind`` telling them apart.

``filters`` needs the ``kind`` column in every part, and ``datasets`` takes its columns from whichever
manifest it reads first (an unordered set of them): with parts written before videos and audio among newer
ones, a filtered load fails, and an unfiltered one gives nulls in the new columns or leaves them out, from
one process to the next. Such a data set is brought up to date once with ``upgrade_manifests``, while
nothing writes to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.storage.manifest import (
    PART_PREFIX,
    ManifestRow,
    child,
    read_part,
    write_manifest,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.utils.logs import Log


@dataclass(frozen=True)
class ListedFile:
    """One file of a data set: where it is (as ``StoredImage.path`` says it) and its manifest row."""

    path: str
    row: ManifestRow


def data_set_path(destination: str | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """
    Return the data set's folder as an ``ObjectStoragePath``.

    A protocol that no installed Airflow provider registers (``memory``, say) is attached with fsspec's own
    implementation, configured as fsspec configures it; it cannot take an Airflow connection.
    """
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    if not isinstance(destination, str):
        return destination
    if not destination.strip():
        raise ApiframeValidationError("Invalid destination", details={"destination": ["must not be empty"]})
    if "://" not in destination:
        destination = "file://" + os.path.abspath(destination)
    protocol = urlsplit(destination).scheme
    has_fs, attach = _airflow_filesystems()
    if not has_fs(protocol):
        if conn_id is not None:
            raise ApiframeValidationError(
                "Invalid destination",
                details={
                    "destination": [
                        f"no installed Airflow provider handles {protocol}://, so connection {conn_id!r} "
                        "cannot be used with it: install the provider that does"
                    ]
                },
            )
        import fsspec

        try:
            attach(protocol, fs=fsspec.filesystem(protocol))
        except (ValueError, ImportError) as error:
            raise ApiframeValidationError(
                "Invalid destination", details={"destination": [f"{protocol}://: {error}"]}
            ) from None
    return ObjectStoragePath(destination, conn_id=conn_id)


def read_data_set(
    destination: str | ObjectStoragePath, conn_id: str | None = None, *, log: Log | None = None
) -> list[ListedFile]:
    """
    List every file of a data set with its manifest row, part by part, reading no file but the manifests.

    Rows of parts written before videos and audio come with the columns they lacked filled in.
    """
    import logging

    log = log or logging.getLogger(__name__)
    folder = data_set_path(destination, conn_id)
    return [
        ListedFile(as_given(destination, child(part, row.file_name)), row)
        for part in parts_of(folder)
        for row in read_part(part, log).rows.values()
    ]


def read_files(
    paths: Sequence[str], conn_id: str | None = None, *, log: Log | None = None
) -> list[ListedFile]:
    """
    Return the manifest row of each stored file, in the order given; each part's manifest is read once.

    ``paths`` are files as this provider stored them (``StoredImage.path``, a batch row's ``paths``): a
    local path or a storage URL, each in its part's folder. A file its part's manifest does not list is
    refused (``ApiframeValidationError``): it is no file of a data set.
    """
    import logging

    log = log or logging.getLogger(__name__)
    manifests: dict[str, dict[str, ManifestRow]] = {}
    listed = []
    missing = []
    for path in paths:
        file = data_set_path(path, conn_id)
        part = file.parent
        rows = manifests.get(str(part))
        if rows is None:
            rows = manifests[str(part)] = read_part(part, log).rows
        row = rows.get(file.name)
        if row is None:
            missing.append(path)
        else:
            listed.append(ListedFile(path, row))
    if missing:
        raise ApiframeValidationError(
            "Not stored files", details={"paths": [f"no manifest lists {path!r}" for path in missing[:10]]}
        )
    return listed


def upgrade_manifests(
    destination: str | ObjectStoragePath, conn_id: str | None = None, *, log: Log | None = None
) -> list[str]:
    """
    Rewrite every part's manifest that lacks a column, so that each has every one; return those rewritten.

    Run it while no task writes to the data set: a part's manifest is its writer's alone (``manifest.py``),
    and a rewrite here at the same time as its writer's could lose the writer's new rows.
    """
    import logging

    log = log or logging.getLogger(__name__)
    rewritten = []
    for part in parts_of(data_set_path(destination, conn_id)):
        manifest = read_part(part, log)
        if manifest.outdated:
            rewritten.append(as_given(destination, write_manifest(part, manifest.rows.values())))
            log.info("Rewrote %s with every column", rewritten[-1])
    return rewritten


def parts_of(folder: ObjectStoragePath) -> list[ObjectStoragePath]:
    """Return the data set's parts, in name order: one listing of its folder."""
    try:
        entries = folder.fs.ls(folder.path, detail=True)
    except FileNotFoundError:
        return []
    names = sorted(
        entry["name"].rstrip("/").rpartition("/")[2] for entry in entries if entry.get("type") == "directory"
    )
    return [child(folder, name) for name in names if name.startswith(PART_PREFIX)]


def files_in(part: ObjectStoragePath) -> dict[str, int]:
    """Return every file of the part by name, with its size: one listing, not a request per file."""
    try:
        entries = part.fs.ls(part.path, detail=True)
    except FileNotFoundError:
        return {}
    return {
        entry["name"].rstrip("/").rpartition("/")[2]: int(entry.get("size") or 0)
        for entry in entries
        if entry.get("type") == "file"
    }


def as_given(destination: str | ObjectStoragePath, path: ObjectStoragePath) -> str:
    """Show a local path where the destination was given as a local folder, else the path's URL."""
    return path.path if isinstance(destination, str) and "://" not in destination else str(path)


def _airflow_filesystems() -> tuple[Callable[[str], bool], Callable[..., Any]]:
    try:
        from airflow.sdk.io import attach, has_fs
    except ImportError:  # Airflow 2 (on Airflow 3, where mypy looks, airflow.io is a shim without them)
        from airflow.io import has_fs  # type: ignore[attr-defined,no-redef]
        from airflow.io.store import attach  # type: ignore[no-redef]
    return has_fs, attach
