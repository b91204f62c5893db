"""
Copying stored files, with their manifest rows, from one data set into another: publishing a review's choice.

The copies land in one writer's part of the destination (``manifest.py``: a part is its writer's alone),
and that part ends up holding exactly the files given, so publishing again under the same writer (a
retry, or a review answered again after its task was cleared) replaces what the part held before instead
of adding to it. A file is copied only if the part lacks it; each copy is streamed into a hidden temporary
file, its digest and size checked against its row, then moved onto its name, as ``cdn.py`` stores.

This module is imported where a task runs, never by a DAG file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.storage.cdn import MAX_MEDIA_BYTES
from airflow_provider_apiframe.storage.data_set import ListedFile, as_given, data_set_path, files_in
from airflow_provider_apiframe.storage.manifest import (
    METADATA_FILE,
    child,
    discard,
    part_name,
    read_manifest,
    temporary_beside,
    write_manifest,
)
from airflow_provider_apiframe.wire.bounded_read import CHUNK_BYTES

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.utils.logs import Log


def copy_files(
    files: Sequence[ListedFile],
    destination: str | ObjectStoragePath,
    *,
    writer: str,
    conn_id: str | None = None,
    source_conn_id: str | None = None,
    log: Log | None = None,
) -> list[ListedFile]:
    """
    Make ``writer``'s part of the data set at ``destination`` hold exactly ``files``, with their rows.

    ``files`` come from ``read_data_set`` or ``read_files`` of another data set (on the storage of
    ``source_conn_id``); ``destination`` is any folder ``store_images`` takes, ``conn_id`` its
    credentials. Files the part already holds with the row's size and digest are kept, others copied;
    files of the part that are not in ``files`` are removed (with no files, the part is emptied). Two
    files of one name must be the same file (a job's output stored twice).

    Returns each file as stored in the destination, in the order given, once per name.
    """
    log = log or logging.getLogger(__name__)
    wanted: dict[str, ListedFile] = {}
    for listed in files:
        earlier = wanted.setdefault(listed.row.file_name, listed)
        if earlier.row.sha256 != listed.row.sha256:
            raise ApiframeValidationError(
                "Two files of one name",
                details={"files": [f"{earlier.path!r} and {listed.path!r} differ, named alike"]},
            )
    part = child(data_set_path(destination, conn_id), part_name(writer))
    part.mkdir(parents=True, exist_ok=True)
    recorded = read_manifest(part, log)
    present = files_in(part)
    copied = 0
    for name, listed in wanted.items():
        row = recorded.get(name)
        if row is not None and row.sha256 == listed.row.sha256 and present.get(name) == listed.row.bytes:
            continue
        _copy(listed, data_set_path(listed.path, source_conn_id), child(part, name))
        copied += 1
    if wanted:
        write_manifest(part, [listed.row for listed in wanted.values()])
    else:
        discard(child(part, METADATA_FILE))
    # After the manifest: a reader never finds a row whose file is gone.
    # Hidden names are temporary files, maybe another try's still being written: left to that try.
    stale = [name for name in present if name not in wanted and name != METADATA_FILE and name[:1] != "."]
    for name in stale:
        discard(child(part, name))
    log.info(
        "%s holds %d file(s): %d copied, %d already there, %d removed",
        part,
        len(wanted),
        copied,
        len(wanted) - copied,
        len(stale),
    )
    return [
        ListedFile(as_given(destination, child(part, name)), listed.row) for name, listed in wanted.items()
    ]


def _copy(listed: ListedFile, source: ObjectStoragePath, target: ObjectStoragePath) -> None:
    """Copy one file onto ``target`` through a temporary file, checking its size and digest on the way."""
    temporary = temporary_beside(target)
    digest = hashlib.sha256()
    size = 0
    try:
        # The filesystems' own files: a temporary file is no lineage output.
        with source.fs.open(source.path, "rb") as data, temporary.fs.open(temporary.path, "wb") as out:
            while chunk := data.read(CHUNK_BYTES):
                size += len(chunk)
                if size > min(listed.row.bytes, MAX_MEDIA_BYTES):
                    break
                digest.update(chunk)
                out.write(chunk)
        if size != listed.row.bytes or digest.hexdigest() != listed.row.sha256:
            raise ApiframeValidationError(
                "A stored file changed",
                details={listed.path: ["its bytes are no longer those its manifest row describes"]},
            )
        temporary.rename(target)
    except BaseException:
        discard(temporary)
        raise
