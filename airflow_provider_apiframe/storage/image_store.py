"""
Copying jobs' outputs (images, videos, audio) from apiframe's CDN into any object storage, as a data set.

A training pipeline loads the data set as it is (the layout and the manifest: ``manifest.py``; what loads
which kind: ``data_set.py``).

Each file is downloaded as ``cdn.py`` does it: streamed into a hidden temporary file, moved onto its final
name only once whole and recognised. The final name is ``<job id>-<n>.<ext>`` (``n`` counts the job's
outputs from 1, as the CDN does; ``ext`` is what the content is: png, jpg, webp, mp4, mov, webm, wav,
mp3, ogg or m4a), so storing the same jobs again finds what an earlier try stored instead of copying it.
An image may be up to ``MAX_IMAGE_BYTES``, a video or audio file up to ``MAX_MEDIA_BYTES``.

The names keep "image" (``ImageToStore``, ``store_images``) from when images were all a job made: other
modules and DAGs import them. This module is imported where a task runs, never by a DAG file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.storage.cdn import (
    MAX_IMAGE_BYTES,
    MAX_MEDIA_BYTES,
    KeptFile,
    download,
    failure,
    read_file,
    with_cdn_session,
)
from airflow_provider_apiframe.storage.data_set import as_given, data_set_path, files_in
from airflow_provider_apiframe.storage.manifest import (
    ManifestRow,
    child,
    part_name,
    read_manifest,
    write_manifest,
)
from airflow_provider_apiframe.storage.media_probe import MediaInfo
from airflow_provider_apiframe.utils.ids import is_uuid
from airflow_provider_apiframe.wire.jobs import parse_job

if TYPE_CHECKING:
    import requests
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.utils.logs import Log

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_MEDIA_BYTES",
    "ImageToStore",
    "StoredImage",
    "data_set_path",
    "download_images",
    "download_stem",
    "images_from_job",
    "jobs_writer",
    "keep_images",
    "store_images",
]

# How apiframe's CDN names a job's outputs: <job id>-<n>.<ext>.
CDN_FILE_NAME = re.compile(
    r"([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}-[1-9][0-9]{0,3})\.[a-z0-9]{3,4}", re.I
)


@dataclass(frozen=True)
class ImageToStore:
    """One output of a job to copy (an image, a video or audio), with what the manifest records about it."""

    url: str
    job_id: str
    # The output's place among its job's outputs, from 1.
    number: int = 1
    model: str = ""
    prompt: str = ""
    # The model's parameter block as sent (e.g. the imagenParams object).
    options: Mapping[str, Any] = field(default_factory=dict)
    credits: int | None = None
    # When the job was created, ISO 8601 in UTC.
    created_at: str = ""
    # The batch row's id, if the output came from a batch.
    row_id: str | int | None = None

    def __post_init__(self) -> None:
        problems = {}
        # Only web URLs: a templated input must not be able to copy files off the worker.
        if urlsplit(self.url).scheme not in ("http", "https"):
            problems["url"] = [f"must be an http(s) URL, got {self.url!r}"]
        # UUIDs only, which also keeps file names safe: the id is part of one.
        if not isinstance(self.job_id, str) or not is_uuid(self.job_id):
            problems["job_id"] = [f"must be a job's UUID, got {self.job_id!r}"]
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            problems["number"] = [f"must be an integer from 1, got {self.number!r}"]
        if problems:
            raise ApiframeValidationError("Invalid image to store", details=problems)

    @property
    def stem(self) -> str:
        """The file's name without its extension, which comes from its content."""
        return f"{self.job_id.lower()}-{self.number}"


@dataclass(frozen=True)
class StoredImage:
    """One output as stored: where its file is, the manifest that lists it, and its row there."""

    # Where the file is: a local path where the destination was a local folder, else a URL (s3://...).
    path: str
    # The metadata.jsonl that lists it.
    manifest: str
    row: ManifestRow
    # False when the file was already there from an earlier try.
    copied: bool


def images_from_job(job: Mapping[str, Any], row: Mapping[str, Any] | None = None) -> list[ImageToStore]:
    """
    List the outputs of a job (images, videos or audio), from its ``GET /v2/jobs/{id}`` answer and batch row.

    The prompt and the parameter block come from the job's ``input``, which the contract makes optional:
    without it, the row's prompt and no options. The job's credit cost goes before the row's.
    """
    parsed = parse_job(job)
    row = row or {}
    request = job.get("input")
    request = request if isinstance(request, Mapping) else {}
    prompt = next((text for text in (request.get("prompt"), row.get("prompt")) if isinstance(text, str)), "")
    # The body is discriminated by model, each with its one block: imagenParams, klingParams...
    options = next(
        (value for key, value in request.items() if key.endswith("Params") and isinstance(value, Mapping)),
        {},
    )
    credits = parsed.credit_cost if parsed.credit_cost is not None else row.get("credit_cost")
    row_id = row.get("id")
    return [
        ImageToStore(
            url=url,
            job_id=parsed.id,
            number=number,
            model=parsed.model or "",
            prompt=prompt,
            options=options,
            credits=credits if isinstance(credits, int) and not isinstance(credits, bool) else None,
            created_at=_iso(parsed.created_at),
            row_id=row_id if isinstance(row_id, str | int) and not isinstance(row_id, bool) else None,
        )
        for number, url in enumerate(parsed.images, start=1)
    ]


def jobs_writer(job_ids: Iterable[str]) -> str:
    """
    Return the writer's name for a set of jobs.

    The same jobs always go to the same part, so storing them again (an Airflow retry, another run of the
    same task) finds the files stored before.
    """
    return "jobs:" + ",".join(sorted({job_id.lower() for job_id in job_ids}))


def store_images(
    images: Sequence[ImageToStore],
    destination: str | ObjectStoragePath,
    *,
    conn_id: str | None = None,
    writer: str | None = None,
    log: Log | None = None,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_media_bytes: int = MAX_MEDIA_BYTES,
) -> list[StoredImage]:
    """
    Copy job outputs into the data set at ``destination`` and list them in their part's manifest.

    ``destination`` is an object-storage URL (``file://``, ``s3://``, ``gs://``, ``memory://``, any fsspec
    protocol), a local path, or an ``ObjectStoragePath``; ``conn_id`` names the Airflow connection that
    holds its credentials. The files go to ``<destination>/part-<hex>/``, the part of ``writer`` (default:
    the outputs' jobs, see ``jobs_writer``), which only one writer at a time may use. An image over
    ``max_bytes``, or a video or audio file over ``max_media_bytes``, is not kept.

    A file already in the part is not copied again: a file the manifest records is trusted when its size
    matches (final names only ever appear complete, by a move), one it does not is hashed. What could be
    stored is recorded in the manifest even when other files fail; then the error is raised:
    ``ApiframeTransientError`` if any failure may pass (a retry copies only what is missing), else
    ``ApiframeNotFoundError`` (outputs gone from the CDN) or another ``ApiframePermanentError``.

    Returns one ``StoredImage`` per distinct output, in the order given.
    """
    log = log or logging.getLogger(__name__)
    caps = {"image": max_bytes, "video": max_media_bytes, "audio": max_media_bytes}
    wanted: dict[str, ImageToStore] = {}
    for image in images:
        wanted.setdefault(image.stem, image)
    if not wanted:
        return []
    writer = writer if writer is not None else jobs_writer(image.job_id for image in wanted.values())
    part = child(data_set_path(destination, conn_id), part_name(writer))
    part.mkdir(parents=True, exist_ok=True)
    # Rows of a part written before videos come with the columns they lacked: the rewrite below has all.
    recorded = read_manifest(part, log)
    present = files_in(part)
    present_by_stem = {name.rpartition(".")[0]: name for name in present if not name.startswith(".")}
    tasks = {}
    for stem, image in wanted.items():
        name = present_by_stem.get(stem)
        row = recorded.get(name) if name is not None else None
        tasks[stem] = partial(
            _place, image=image, part=part, name=name, row=row, present=present, caps=caps, log=log
        )
    done, failures = with_cdn_session(tasks)
    placed = [(_row(wanted[stem], file), copied) for stem, (file, copied) in done.items()]
    names = {row.file_name for row, _ in placed}
    # Rows of earlier calls for other outputs stay, as long as their files do.
    kept = [row for name, row in recorded.items() if name in present and name not in names]
    rows = kept + [row for row, _ in placed]
    manifest = as_given(destination, write_manifest(part, rows)) if rows else ""
    copied_count = sum(copied for _, copied in placed)
    log.info(
        "Stored %d of %d file(s) in %s: %d copied, %d already there",
        len(placed),
        len(wanted),
        part,
        copied_count,
        len(placed) - copied_count,
    )
    if failures:
        raise failure(failures, len(wanted))
    return [
        StoredImage(
            path=as_given(destination, child(part, row.file_name)), manifest=manifest, row=row, copied=copied
        )
        for row, copied in placed
    ]


def download_images(
    urls: Sequence[str], directory: str | os.PathLike[str], *, max_bytes: int, log: Log
) -> list[str]:
    """
    Copy images into a local folder without a manifest (``ApiframeHook.download_images``).

    Only images (PNG, JPEG, WEBP) of at most ``max_bytes``, as the hook documents. Returns each URL's local
    path, in order. Files are named as ``download_stem`` says, with the extension of their content.
    """
    stems = [download_stem(index, url) for index, url in enumerate(urls)]
    folder = os.path.abspath(os.fspath(directory))
    target = data_set_path(folder)
    target.mkdir(parents=True, exist_ok=True)
    caps = {"image": max_bytes}
    tasks = {
        stem: partial(download, url=url, folder=target, stem=stem, caps=caps, log=log)
        for stem, url in dict(zip(stems, urls, strict=True)).items()
    }
    done, failures = with_cdn_session(tasks)
    if failures:
        raise failure(failures, len(tasks))
    return [os.path.join(folder, done[stem].name) for stem in stems]


def download_stem(index: int, url: str) -> str:
    """
    Return a downloaded file's name without its extension.

    ``<job id>-<n>`` where the URL is named so, as apiframe's CDN names files; otherwise a hash of the URL,
    so that no server picks a local name.
    """
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise ApiframeValidationError(
            "Invalid image URL", details={f"urls[{index}]": [f"must be an http(s) URL, got {url!r:.200}"]}
        )
    named = CDN_FILE_NAME.fullmatch(urlsplit(url).path.rpartition("/")[2])
    return named.group(1).lower() if named else "image-" + hashlib.sha256(url.encode()).hexdigest()[:16]


def keep_images(
    images: Sequence[ImageToStore], destination: str, conn_id: str | None, log: Log
) -> dict[str, str]:
    """
    Store the outputs a job or batch task has just made (it knows their prompt and options already).

    Returns each source URL -> its stored path. The part is named after the task's jobs, so a retry copies
    nothing.
    """
    stored = store_images(images, destination, conn_id=conn_id, log=log)
    return {image.row.source_url: image.path for image in stored}


def _place(
    session: requests.Session,
    image: ImageToStore,
    part: ObjectStoragePath,
    name: str | None,
    row: ManifestRow | None,
    present: Mapping[str, int],
    caps: Mapping[str, int],
    log: Log,
) -> tuple[KeptFile, bool]:
    """
    Return the output's file in the part, and whether it had to be copied for it.

    ``name`` is the file already there for it, if any, and ``row`` what the manifest records about that
    file.
    """
    if name is not None:
        if row is not None and row.bytes == present[name]:
            return _recorded(row), False
        if row is None:
            # Moved into place by a try that ended before its manifest was written: whole, but unrecorded.
            existing = read_file(child(part, name), image.stem)
            if existing is not None:
                return existing, False
        log.warning("%s is not the file the manifest records; copying it again", child(part, name))
    return download(session, image.url, part, image.stem, caps, log), True


def _recorded(row: ManifestRow) -> KeptFile:
    """Return the file a manifest row describes, as it was read when stored."""
    extension = row.file_name.rpartition(".")[2]
    media = MediaInfo(row.kind, row.content_type, extension, row.width, row.height, row.duration)
    return KeptFile(row.file_name, row.sha256, row.bytes, media)


def _row(image: ImageToStore, file: KeptFile) -> ManifestRow:
    return ManifestRow(
        file_name=file.name,
        id="" if image.row_id is None else str(image.row_id),
        job_id=image.job_id,
        prompt=image.prompt,
        model=image.model,
        options=json.dumps(dict(image.options), sort_keys=True, ensure_ascii=False),
        source_url=image.url,
        sha256=file.sha256,
        width=file.media.width,
        height=file.media.height,
        bytes=file.bytes,
        credits=image.credits or 0,
        created_at=image.created_at,
        kind=file.media.kind,
        content_type=file.media.content_type,
        duration=file.media.duration,
    )


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
