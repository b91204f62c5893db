"""
Downloading job outputs from apiframe's CDN into a folder of any object storage, one file at a time.

Each file is streamed, a chunk at a time, into a hidden temporary file in its folder and moved onto its
final name only once whole and recognised (``media_probe``: an image, a video or audio of a type a data
set keeps), so a failure never leaves a partial file under a final name. The final name is the stem the
caller gives with the extension of the file's content. What kinds are taken, and how large each may be,
is the caller's ``caps``: a file of another kind, or over its kind's cap, is refused as soon as its bytes
show it, before the rest is read.

The CDN needs no key and may be another host: downloads go through a session of their own, never the
hook's, so the key cannot reach it. This module is imported where a task runs, never by a DAG file.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from airflow_provider_apiframe.exceptions import (
    ApiframeError,
    ApiframeNotFoundError,
    ApiframePermanentError,
    ApiframeRateLimitError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
)
from airflow_provider_apiframe.storage.manifest import child, discard, temporary_beside
from airflow_provider_apiframe.storage.media_probe import NOT_KEPT, MediaInfo, MediaProbe
from airflow_provider_apiframe.wire.bounded_read import CHUNK_BYTES, sync_chunks, too_large
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
# The largest image kept by default: a generated image is a few MiB, an upscaled one a few tens.
MAX_IMAGE_BYTES = 100 * 1024 * 1024
# The largest video or audio file kept by default. A generated clip is a few to a few tens of MiB (seconds
# of 1080p at a streaming bitrate); upscaled 4K at a high bitrate reaches a few hundred. A song is a few.
MAX_MEDIA_BYTES = 500 * 1024 * 1024
# The longest one try of one download may take, however steadily the bytes come: a video may be 5 times
# an image's cap, and gets 3 times its time.
DOWNLOAD_DEADLINE = {"image": 600.0, "video": 1800.0, "audio": 1800.0}
# How errors name what a download may give.
_KINDS_SAID = {
    "image": "a PNG, JPEG or WEBP image",
    "video": "an MP4, MOV or WebM video",
    "audio": "WAV, MP3, OGG or M4A audio",
}
DOWNLOADS_IN_FLIGHT = 4
FAILURES_NAMED = 5
# How CDNs (S3 and CloudFront among them) say a file is not there: apiframe purges outputs after 24 hours.
GONE_STATUSES = (403, 404, 410)


@dataclass(frozen=True)
class KeptFile:
    """A file in its folder under its final name: what the manifest records about it."""

    name: str
    sha256: str
    bytes: int
    media: MediaInfo


class FileContent:
    """What is learnt from a file's bytes as they stream past: its hash, its length, what it is."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.probe = MediaProbe()

    @property
    def size(self) -> int:
        """Return the bytes seen so far."""
        return self.probe.size

    def feed(self, chunk: bytes) -> None:
        """Take the file's next bytes."""
        self._digest.update(chunk)
        self.probe.feed(chunk)

    def file(self, stem: str) -> KeptFile | None:
        """Return the file these bytes make, named by their type; None if a data set keeps no such type."""
        media = self.probe.result()
        if media is None:
            return None
        return KeptFile(f"{stem}.{media.extension}", self._digest.hexdigest(), self.size, media)


def read_file(path: ObjectStoragePath, stem: str) -> KeptFile | None:
    """Read a file already in place (streamed, as a download is); None if it is nothing a data set keeps."""
    content = FileContent()
    with path.fs.open(path.path, "rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            content.feed(chunk)
    return content.file(stem)


def download(
    session: requests.Session,
    url: str,
    folder: ObjectStoragePath,
    stem: str,
    caps: Mapping[str, int],
    log: Log,
) -> KeptFile:
    """Copy ``url`` into ``folder`` as ``<stem>.<ext>``; transient failures are tried again a few times."""
    tries = 0
    while True:
        tries += 1
        try:
            return _download_once(session, url, folder, stem, caps)
        except ApiframeTransientError as error:
            if tries >= DOWNLOAD_TRIES:
                raise
            delay = backoff(tries - 1)
            if isinstance(error, ApiframeRateLimitError) and error.retry_after is not None:
                delay = min(error.retry_after, RETRY_AFTER_CAP)
            log.warning("%s; try %d of %d in %.2f s", error, tries + 1, DOWNLOAD_TRIES, delay)
            time.sleep(delay)


def kinds_said(caps: Mapping[str, int]) -> str:
    """Say in words what a download with these caps may give."""
    said = [_KINDS_SAID[kind] for kind in _KINDS_SAID if kind in caps]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " or " + said[-1]


def _download_once(
    session: requests.Session, url: str, folder: ObjectStoragePath, stem: str, caps: Mapping[str, int]
) -> KeptFile:
    temporary = temporary_beside(child(folder, stem))
    try:
        content = _stream(session, url, temporary, caps)
        file = content.file(stem)
        if file is None:
            raise _not_kept(url, caps, content)
        if file.media.kind not in caps:
            raise _kind_not_taken(url, caps, file.media.kind)
        temporary.rename(child(folder, file.name))
    except BaseException:
        discard(temporary)
        raise
    return file


def _not_kept(url: str, caps: Mapping[str, int], content: FileContent) -> ApiframeUnexpectedResponseError:
    # A proxy's error page with a 200, say: worth another try.
    return ApiframeUnexpectedResponseError(
        f"{url} did not give {kinds_said(caps)} ({content.size} bytes read)"
    )


def _kind_not_taken(url: str, caps: Mapping[str, int], kind: str) -> ApiframePermanentError:
    # A whole file of a kind the caller does not take (a video where images are downloaded): no retry helps.
    return ApiframePermanentError(f"{url} gave a file of kind {kind!r}, not {kinds_said(caps)}")


def _stream(
    session: requests.Session, url: str, target: ObjectStoragePath, caps: Mapping[str, int]
) -> FileContent:
    """Copy ``url`` into ``target`` a chunk at a time, within its kind's cap and deadline; what was learnt."""
    import requests

    content = FileContent()
    started = time.monotonic()
    what = f"Downloading {url}"
    try:
        with session.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as response:
            _check_status(url, response)
            # The kind is not known until the first bytes: the most any kind allows, until then.
            chunks = sync_chunks(
                response,
                max_bytes=max(caps.values()),
                deadline=started + max(DOWNLOAD_DEADLINE[kind] for kind in caps),
                what=what,
            )
            # The filesystem's own file, not the path's: a temporary file is no lineage output.
            with target.fs.open(target.path, "wb") as out:
                for chunk in chunks:
                    content.feed(chunk)
                    _check_kind(content, caps, url, started, response.status_code)
                    out.write(chunk)
    except requests.RequestException as error:
        # A connection dropped mid-body lands here too (urllib3 checks the length it was promised).
        raise ApiframeTransientError(f"Downloading {url} failed: {type(error).__name__}: {error}") from None
    return content


def _check_kind(content: FileContent, caps: Mapping[str, int], url: str, started: float, status: int) -> None:
    """Refuse a download once its first bytes show a kind not taken, or past its kind's cap or deadline."""
    kind = content.probe.kind
    if kind is None:
        return
    if kind == NOT_KEPT:
        raise _not_kept(url, caps, content)
    if kind not in caps:
        raise _kind_not_taken(url, caps, kind)
    if content.size > caps[kind]:
        raise too_large(f"Downloading {url}", caps[kind], status)
    if time.monotonic() > started + DOWNLOAD_DEADLINE[kind]:
        raise ApiframeTransientError(
            f"Downloading {url} timed out: the {kind} was still arriving at its deadline"
        )


def _check_status(url: str, response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300 and status != 206:
        return
    message = f"The CDN answered HTTP {status} for {url}"
    if status in GONE_STATUSES:
        raise ApiframeNotFoundError(
            f"{message}: the file is gone (apiframe keeps a job's outputs 24 hours after it)",
            http_status=status,
        )
    if status == 429:
        raise ApiframeRateLimitError(message, retry_after=parse_retry_after(response.headers))
    if status >= 500 or status == 408:
        raise ApiframeTransientError(message, http_status=status)
    raise ApiframePermanentError(message, http_status=status)


def with_cdn_session(
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


def failure(errors: Sequence[ApiframeError], total: int) -> ApiframeError:
    """Make the one error of a batch of downloads: transient if any may pass, else what they all are."""
    if len(errors) == 1 and total == 1:
        return errors[0]
    named = "; ".join(str(error) for error in errors[:FAILURES_NAMED])
    more = f"; and {len(errors) - FAILURES_NAMED} more" if len(errors) > FAILURES_NAMED else ""
    message = f"{len(errors)} of {total} files could not be stored: {named}{more}"
    if not all(isinstance(error, ApiframePermanentError) for error in errors):
        return ApiframeTransientError(message)
    if all(isinstance(error, ApiframeNotFoundError) for error in errors):
        return ApiframeNotFoundError(message)
    return ApiframePermanentError(message)


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
