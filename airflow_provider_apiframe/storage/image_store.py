"""
Copying generated images from apiframe's CDN into any Airflow object storage, as a data set.

A training pipeline loads the data set as it is (the layout and the manifest: ``manifest.py``).

Each image is streamed, a chunk at a time, into a hidden temporary file in its part's folder and moved
onto its final name only once whole and recognised as an image, so a failure never leaves a partial file
under a final name. The final name is ``<job id>-<n>.<png|jpg|webp>`` (``n`` counts the job's images from
1, as the CDN does), so storing the same jobs again finds what an earlier try stored instead of copying it.

The CDN needs no key and may be another host: downloads go through a session of their own, never the
hook's, so the key cannot reach it. This module is imported where a task runs, never by a DAG file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from airflow_provider_apiframe.exceptions import (
    ApiframeError,
    ApiframeNotFoundError,
    ApiframePermanentError,
    ApiframeRateLimitError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.storage.image_header import ImageHeader, read_header
from airflow_provider_apiframe.storage.manifest import (
    ManifestRow,
    child,
    discard,
    part_name,
    read_manifest,
    temporary_beside,
    write_manifest,
)
from airflow_provider_apiframe.utils.ids import is_uuid
from airflow_provider_apiframe.wire.bounded_read import CHUNK_BYTES, sync_chunks
from airflow_provider_apiframe.wire.jobs import parse_job
from airflow_provider_apiframe.wire.transport import USER_AGENT, backoff, parse_retry_after

if TYPE_CHECKING:
    import requests
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.utils.logs import Log

_T = TypeVar("_T")

# Tries of one download before its error is raised: transient CDN faults pass in seconds, and a task's
# own retries take over after that without copying again what is already stored.
DOWNLOAD_TRIES = 5
# Longest wait a CDN's Retry-After may impose between two tries.
RETRY_AFTER_CAP = 30.0
CONNECT_TIMEOUT = 10.0
# Seconds without a byte before a download counts as dropped.
READ_TIMEOUT = 60.0
# The longest one try of one download may take, however steadily the bytes come.
DOWNLOAD_DEADLINE = 600.0
# The largest file kept by default: a generated image is a few MiB, an upscaled one a few tens.
MAX_IMAGE_BYTES = 100 * 1024 * 1024
# What one download holds in memory: one chunk, plus the image's first bytes until its size is read.
HEADER_LIMIT = 1024 * 1024
# How apiframe's CDN names a job's images: <job id>-<n>.<ext>.
CDN_FILE_NAME = re.compile(r"([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}-[1-9][0-9]{0,3})\.[a-z]{3,4}", re.I)
DOWNLOADS_IN_FLIGHT = 4
FAILURES_NAMED = 5
# How CDNs (S3 and CloudFront among them) say a file is not there: apiframe purges images after 24 hours.
GONE_STATUSES = (403, 404, 410)


@dataclass(frozen=True)
class ImageToStore:
    """One image to copy, with what the manifest records about it."""

    url: str
    job_id: str
    # The image's place among its job's images, from 1.
    number: int = 1
    model: str = ""
    prompt: str = ""
    # The model's parameter block as sent (e.g. the imagenParams object).
    options: Mapping[str, Any] = field(default_factory=dict)
    credits: int | None = None
    # When the job was created, ISO 8601 in UTC.
    created_at: str = ""
    # The batch row's id, if the image came from a batch.
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
        """The image's file name without its extension, which comes from its content."""
        return f"{self.job_id.lower()}-{self.number}"


@dataclass(frozen=True)
class StoredImage:
    """One image as stored: where its file is, the manifest that lists it, and its row there."""

    # Where the image is: a local path where the destination was a local folder, else a URL (s3://...).
    path: str
    # The metadata.jsonl that lists it.
    manifest: str
    row: ManifestRow
    # False when the file was already there from an earlier try.
    copied: bool


def images_from_job(job: Mapping[str, Any], row: Mapping[str, Any] | None = None) -> list[ImageToStore]:
    """
    List the images of a job, from its ``GET /v2/jobs/{id}`` answer and, if from a batch, its result row.

    The prompt and the parameter block come from the job's ``input``, which the contract makes optional:
    without it, the row's prompt and no options. The job's credit cost goes before the row's.
    """
    parsed = parse_job(job)
    row = row or {}
    request = job.get("input")
    request = request if isinstance(request, Mapping) else {}
    prompt = next((text for text in (request.get("prompt"), row.get("prompt")) if isinstance(text, str)), "")
    # The body is discriminated by model, each with its one block: imagenParams, fluxParams...
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
) -> list[StoredImage]:
    """
    Copy ``images`` into the data set at ``destination`` and list them in their part's manifest.

    ``destination`` is an object-storage URL (``file://``, ``s3://``, ``gs://``, ``memory://``, any fsspec
    protocol), a local path, or an ``ObjectStoragePath``; ``conn_id`` names the Airflow connection that
    holds its credentials. The images go to ``<destination>/part-<hex>/``, the part of ``writer`` (default:
    the images' jobs, see ``jobs_writer``), which only one writer at a time may use. A file over
    ``max_bytes`` is not kept.

    An image whose file is already in the part is not copied again: a file the manifest records is trusted
    when its size matches (final names only ever appear complete, by a move), one it does not is hashed.
    What could be stored is recorded in the manifest even when other images fail; then the error is raised:
    ``ApiframeTransientError`` if any failure may pass (a retry copies only what is missing), else
    ``ApiframeNotFoundError`` (images gone from the CDN) or another ``ApiframePermanentError``.

    Returns one ``StoredImage`` per distinct image, in the order given.
    """
    log = log or logging.getLogger(__name__)
    wanted: dict[str, ImageToStore] = {}
    for image in images:
        wanted.setdefault(image.stem, image)
    if not wanted:
        return []
    writer = writer if writer is not None else jobs_writer(image.job_id for image in wanted.values())
    part = child(data_set_path(destination, conn_id), part_name(writer))
    part.mkdir(parents=True, exist_ok=True)
    recorded = read_manifest(part, log)
    present = _files_in(part)
    present_by_stem = {name.rpartition(".")[0]: name for name in present if not name.startswith(".")}
    tasks = {}
    for stem, image in wanted.items():
        name = present_by_stem.get(stem)
        row = recorded.get(name) if name is not None else None
        tasks[stem] = partial(
            _place, image=image, part=part, name=name, row=row, present=present, max_bytes=max_bytes, log=log
        )
    done, failures = _with_cdn_session(tasks)
    placed = [(_row(wanted[stem], file), copied) for stem, (file, copied) in done.items()]
    names = {row.file_name for row, _ in placed}
    # Rows of earlier calls for other images stay, as long as their files do.
    kept = [row for name, row in recorded.items() if name in present and name not in names]
    rows = kept + [row for row, _ in placed]
    manifest = _as_given(destination, write_manifest(part, rows)) if rows else ""
    copied_count = sum(copied for _, copied in placed)
    log.info(
        "Stored %d of %d image(s) in %s: %d copied, %d already there",
        len(placed),
        len(wanted),
        part,
        copied_count,
        len(placed) - copied_count,
    )
    if failures:
        raise _failure(failures, len(wanted))
    return [
        StoredImage(
            path=_as_given(destination, child(part, row.file_name)), manifest=manifest, row=row, copied=copied
        )
        for row, copied in placed
    ]


def download_images(
    urls: Sequence[str], directory: str | os.PathLike[str], *, max_bytes: int, log: Log
) -> list[str]:
    """
    Copy images into a local folder without a manifest (``ApiframeHook.download_images``).

    Returns each URL's local path, in order. Files are named as ``download_stem`` says, with the extension
    of their content.
    """
    stems = [download_stem(index, url) for index, url in enumerate(urls)]
    folder = os.path.abspath(os.fspath(directory))
    target = data_set_path(folder)
    target.mkdir(parents=True, exist_ok=True)
    tasks = {
        stem: partial(_download, url=url, folder=target, stem=stem, max_bytes=max_bytes, log=log)
        for stem, url in dict(zip(stems, urls, strict=True)).items()
    }
    done, failures = _with_cdn_session(tasks)
    if failures:
        raise _failure(failures, len(tasks))
    return [os.path.join(folder, done[stem].name) for stem in stems]


def download_stem(index: int, url: str) -> str:
    """
    Return a downloaded file's name without its extension.

    ``<job id>-<n>`` where the URL is named so, as apiframe's CDN names images; otherwise a hash of the URL,
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
    Store images a generate or batch task has just made (it knows their prompt and options already).

    Returns each source URL -> its stored path. The part is named after the task's jobs, so a retry copies
    nothing.
    """
    stored = store_images(images, destination, conn_id=conn_id, log=log)
    return {image.row.source_url: image.path for image in stored}


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


@dataclass(frozen=True)
class _File:
    """A stored file, as the manifest records it."""

    name: str
    sha256: str
    bytes: int
    width: int
    height: int


class _Content:
    """What is learnt from an image's bytes as they stream past: its hash, its length, its header."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.size = 0
        self._prefix = bytearray()
        self.header: ImageHeader | None = None

    def feed(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        self.size += len(chunk)
        if self.header is None and len(self._prefix) < HEADER_LIMIT:
            self._prefix += chunk[: HEADER_LIMIT - len(self._prefix)]
            self.header = read_header(self._prefix)
            if self.header is not None:
                self._prefix = bytearray()

    def file(self, stem: str) -> _File | None:
        """Return the file these bytes make, named by their format; None if they are not an image we know."""
        if self.header is None:
            return None
        return _File(
            f"{stem}.{self.header.format}",
            self._digest.hexdigest(),
            self.size,
            self.header.width,
            self.header.height,
        )


def _place(
    session: requests.Session,
    image: ImageToStore,
    part: ObjectStoragePath,
    name: str | None,
    row: ManifestRow | None,
    present: Mapping[str, int],
    max_bytes: int,
    log: Log,
) -> tuple[_File, bool]:
    """
    Return the image's file in the part, and whether it had to be copied for it.

    ``name`` is the file already there for it, if any, and ``row`` what the manifest records about that
    file.
    """
    if name is not None:
        if row is not None and row.bytes == present[name]:
            return _File(name, row.sha256, row.bytes, row.width, row.height), False
        if row is None:
            # Moved into place by a try that ended before its manifest was written: whole, but unrecorded.
            existing = _read_file(child(part, name), image.stem)
            if existing is not None:
                return existing, False
        log.warning("%s is not the file the manifest records; copying it again", child(part, name))
    return _download(session, image.url, part, image.stem, max_bytes, log), True


def _read_file(path: ObjectStoragePath, stem: str) -> _File | None:
    content = _Content()
    with path.fs.open(path.path, "rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            content.feed(chunk)
    return content.file(stem)


def _download(
    session: requests.Session, url: str, folder: ObjectStoragePath, stem: str, max_bytes: int, log: Log
) -> _File:
    """``url`` as ``<stem>.<ext>`` in ``folder``, transient failures tried again a few times."""
    tries = 0
    while True:
        tries += 1
        try:
            return _download_once(session, url, folder, stem, max_bytes)
        except ApiframeTransientError as error:
            if tries >= DOWNLOAD_TRIES:
                raise
            delay = backoff(tries - 1)
            if isinstance(error, ApiframeRateLimitError) and error.retry_after is not None:
                delay = min(error.retry_after, RETRY_AFTER_CAP)
            log.warning("%s; try %d of %d in %.2f s", error, tries + 1, DOWNLOAD_TRIES, delay)
            time.sleep(delay)


def _download_once(
    session: requests.Session, url: str, folder: ObjectStoragePath, stem: str, max_bytes: int
) -> _File:
    temporary = temporary_beside(child(folder, stem))
    try:
        content = _stream(session, url, temporary, max_bytes)
        file = content.file(stem)
        if file is None:
            # A proxy's error page with a 200, say: worth another try.
            raise ApiframeUnexpectedResponseError(
                f"{url} did not give a PNG, JPEG or WEBP image ({content.size} bytes)"
            )
        temporary.rename(child(folder, file.name))
    except BaseException:
        discard(temporary)
        raise
    return file


def _stream(session: requests.Session, url: str, target: ObjectStoragePath, max_bytes: int) -> _Content:
    """Copy ``url`` into ``target`` a chunk at a time; what was learnt from its bytes on the way."""
    import requests

    content = _Content()
    deadline = time.monotonic() + DOWNLOAD_DEADLINE
    try:
        with session.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as response:
            _check_status(url, response)
            chunks = sync_chunks(response, max_bytes=max_bytes, deadline=deadline, what=f"Downloading {url}")
            # The filesystem's own file, not the path's: a temporary file is no lineage output.
            with target.fs.open(target.path, "wb") as out:
                for chunk in chunks:
                    content.feed(chunk)
                    out.write(chunk)
    except requests.RequestException as error:
        # A connection dropped mid-body lands here too (urllib3 checks the length it was promised).
        raise ApiframeTransientError(f"Downloading {url} failed: {type(error).__name__}: {error}") from None
    return content


def _check_status(url: str, response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300 and status != 206:
        return
    message = f"The CDN answered HTTP {status} for {url}"
    if status in GONE_STATUSES:
        raise ApiframeNotFoundError(
            f"{message}: the image is gone (apiframe keeps images 24 hours after their job)",
            http_status=status,
        )
    if status == 429:
        raise ApiframeRateLimitError(message, retry_after=parse_retry_after(response.headers))
    if status >= 500 or status == 408:
        raise ApiframeTransientError(message, http_status=status)
    raise ApiframePermanentError(message, http_status=status)


def _with_cdn_session(
    tasks: Mapping[str, Callable[[requests.Session], _T]],
) -> tuple[dict[str, _T], list[ApiframeError]]:
    """
    Run each task with one CDN session, a few at a time, so that one bad download never stops the rest.

    Returns what each one that succeeded gave (in the order of ``tasks``), and the typed errors of the
    others.
    """
    session = _cdn_session()
    try:
        with ThreadPoolExecutor(DOWNLOADS_IN_FLIGHT, thread_name_prefix="apiframe-cdn") as pool:
            futures = {key: pool.submit(task, session) for key, task in tasks.items()}
    finally:
        session.close()
    done: dict[str, _T] = {}
    failures: list[ApiframeError] = []
    for key, future in futures.items():
        try:
            done[key] = future.result()
        except ApiframeError as error:
            failures.append(error)
    return done, failures


def _cdn_session() -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    # Shared by the download threads: plain GETs, no cookies or auth, one connection per thread.
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=DOWNLOADS_IN_FLIGHT)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def _as_given(destination: str | ObjectStoragePath, path: ObjectStoragePath) -> str:
    """Show a local path where the destination was given as a local folder, else the path's URL."""
    return path.path if isinstance(destination, str) and "://" not in destination else str(path)


def _files_in(part: ObjectStoragePath) -> dict[str, int]:
    """Every file of the part by name, with its size: one listing, not a request per image."""
    try:
        entries = part.fs.ls(part.path, detail=True)
    except FileNotFoundError:
        return {}
    return {
        entry["name"].rstrip("/").rpartition("/")[2]: int(entry.get("size") or 0)
        for entry in entries
        if entry.get("type") == "file"
    }


def _row(image: ImageToStore, file: _File) -> ManifestRow:
    return ManifestRow(
        file_name=file.name,
        id="" if image.row_id is None else str(image.row_id),
        job_id=image.job_id,
        prompt=image.prompt,
        model=image.model,
        options=json.dumps(dict(image.options), sort_keys=True, ensure_ascii=False),
        source_url=image.url,
        sha256=file.sha256,
        width=file.width,
        height=file.height,
        bytes=file.bytes,
        credits=image.credits or 0,
        created_at=image.created_at,
    )


def _failure(errors: Sequence[ApiframeError], total: int) -> ApiframeError:
    if len(errors) == 1 and total == 1:
        return errors[0]
    named = "; ".join(str(error) for error in errors[:FAILURES_NAMED])
    more = f"; and {len(errors) - FAILURES_NAMED} more" if len(errors) > FAILURES_NAMED else ""
    message = f"{len(errors)} of {total} images could not be stored: {named}{more}"
    if not all(isinstance(error, ApiframePermanentError) for error in errors):
        return ApiframeTransientError(message)
    if all(isinstance(error, ApiframeNotFoundError) for error in errors):
        return ApiframeNotFoundError(message)
    return ApiframePermanentError(message)


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _airflow_filesystems() -> tuple[Callable[[str], bool], Callable[..., Any]]:
    try:
        from airflow.sdk.io import attach, has_fs
    except ImportError:  # Airflow 2 (on Airflow 3, where mypy looks, airflow.io is a shim without them)
        from airflow.io import has_fs  # type: ignore[attr-defined,no-redef]
        from airflow.io.store import attach  # type: ignore[no-redef]
    return has_fs, attach
