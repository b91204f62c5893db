"""
URLs a reviewer's browser can load for the stored images of a data set, and the checks that serve them.

A review shows the stored copies, never apiframe's CDN URLs: the CDN purges a job's outputs 24 hours after
the job, and a review may take longer. How a stored image gets a URL depends on its storage:

- A local folder (a path, or ``file://``): the provider's Airflow 3 API-server plugin serves it, at
  ``<[api] base_url>/apiframe/images?path=<the file>&sha256=<its digest>`` (``served_url``). The
  API server answers only for a signed-in Airflow user, and only with a file that passes every check of
  ``open_served_image``: an image under one of the folders ``[apiframe] review_roots`` names (on the API
  server), listed in its part's ``metadata.jsonl`` with that very digest, and whose bytes still have it.
  Nothing else on the API server's disk can be reached, whatever the request says. The API server reads
  the file at the same path as the task wrote it: on one machine, or a volume mounted alike on both.
- Object storage whose fsspec filesystem presigns (``fs.sign``: S3 through s3fs, GCS through gcsfs, Azure
  through adlfs): a presigned URL, valid for ``expires_in`` (S3 and GCS allow at most 7 days). The
  storage authorises it, so it works wherever the reviewer opens it, and stops working when it expires.
- Any other storage (``memory://``, a filesystem without ``sign``) has no URL a browser could load:
  ``review_url`` refuses it.

This module is imported where a task runs, and by the API server's plugin app; never by a DAG file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.storage.manifest import METADATA_FILE, PART_PREFIX, ManifestRow, parse_line
from airflow_provider_apiframe.storage.media_type import HEAD_BYTES, sniff

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.utils.logs import Log

# Where the plugin mounts its app, and the app's route: together the served URL's path.
URL_PREFIX = "/apiframe"
IMAGES_ROUTE = "/images"
# The Airflow configuration option (read on the API server) listing the folders it may serve from.
CONFIG_SECTION, ROOTS_OPTION = "apiframe", "review_roots"
# Long enough for a review that spans a weekend; S3's and GCS's presigned URLs cannot outlive 7 days.
DEFAULT_EXPIRY = timedelta(days=3)
MAX_EXPIRY = timedelta(days=7)
# The image types a data set keeps: what a browser shows in an <img>.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
SHA256 = re.compile(r"[0-9a-f]{64}")
PART_NAME = re.compile(re.escape(PART_PREFIX) + r"[0-9a-f]{16}")
# The longest path the route takes (Linux's PATH_MAX): longer ones are no stored file.
MAX_PATH = 4096
# A manifest lists up to 10,000 rows of a few hundred bytes each; one far larger is no manifest we wrote.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
SERVE_CHUNK_BYTES = 256 * 1024

_log = logging.getLogger(__name__)


def review_url(
    path: str,
    sha256: str,
    *,
    conn_id: str | None = None,
    base_url: str | None = None,
    expires_in: timedelta = DEFAULT_EXPIRY,
    log: Log | None = None,
) -> str:
    """
    Return a URL a reviewer's browser can load the stored image at ``path`` from.

    ``path`` is a stored file as ``StoredImage.path`` or a batch row's ``paths`` give it (a local path or
    a storage URL), ``sha256`` its digest from its manifest row. Local files get the API server's route
    (``served_url``), files on storage that presigns a presigned URL (``presigned_url``).
    """
    if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
        raise ApiframeValidationError(
            "Invalid digest", details={"sha256": [f"must be 64 hex digits: {sha256!r}"]}
        )
    from airflow_provider_apiframe.storage.data_set import data_set_path

    if "://" not in path or urlsplit(path).scheme == "file":
        local = data_set_path(path).path
        _warn_if_not_served(local, log or _log)
        return served_url(local, sha256, base_url=base_url)
    return presigned_url(data_set_path(path, conn_id), expires_in)


def served_url(path: str, sha256: str, *, base_url: str | None = None) -> str:
    """
    Return the API server's URL of a local stored image.

    ``base_url`` defaults to Airflow's ``[api] base_url``. Where neither says one, the URL is relative
    (``apiframe/images?...``): the Airflow UI's pages set ``<base href>`` to the API server's root, so it
    still loads there, though not in an e-mail or a chat message a notifier sends.
    """
    if base_url is None:
        from airflow.providers.common.compat.sdk import conf

        base_url = conf.get("api", "base_url", fallback="") or ""
    query = urlencode({"path": path, "sha256": sha256})
    relative = f"{URL_PREFIX}{IMAGES_ROUTE}?{query}"
    return f"{base_url.rstrip('/')}{relative}" if base_url else relative.lstrip("/")


def presigned_url(target: ObjectStoragePath, expires_in: timedelta = DEFAULT_EXPIRY) -> str:
    """Return a presigned URL of a file on object storage, valid for ``expires_in``."""
    seconds = int(expires_in.total_seconds())
    if not 0 < seconds <= MAX_EXPIRY.total_seconds():
        raise ApiframeValidationError(
            "Invalid expiry", details={"expires_in": [f"must be within 1 s and 7 days: {expires_in}"]}
        )
    try:
        url = target.fs.sign(target.path, expiration=seconds)
    except NotImplementedError:
        raise ApiframeValidationError(
            "No review URL",
            details={
                "path": [
                    f"{target.protocol}:// storage cannot presign URLs, and only a local folder is served "
                    f"by the API server: store the data set to review on S3, GCS, Azure or a local folder"
                ]
            },
        ) from None
    if urlsplit(str(url)).scheme not in ("http", "https"):
        raise ApiframeValidationError(
            "No review URL", details={"path": [f"{target.protocol}:// signed a URL no browser loads"]}
        )
    return str(url)


def markdown_image(label: str, url: str) -> str:
    """
    Return Markdown that shows the image at ``url`` with ``label`` as its text.

    The label is escaped (``markdown_text``), so a prompt's brackets or asterisks stay text; the URL is
    written between angle brackets, where CommonMark takes it whole, and gets the two characters that
    could end it there percent-encoded.
    """
    return f"![{markdown_text(label)}](<{url.replace('<', '%3C').replace('>', '%3E')}>)"


def markdown_text(text: str) -> str:
    """Return ``text`` as Markdown that shows it as it is, on one line, also in a table's cell."""
    return re.sub(r"([\\`*_\[\]<>!|#])", r"\\\1", " ".join(text.split()))


def review_roots() -> list[str]:
    """Return the absolute folders ``[apiframe] review_roots`` lists (comma-separated) in this config."""
    from airflow.providers.common.compat.sdk import conf

    value = conf.get(CONFIG_SECTION, ROOTS_OPTION, fallback="") or ""
    roots = [root.strip() for root in value.replace("\n", ",").split(",") if root.strip()]
    # A relative folder would depend on the directory each process started in: never what was meant.
    for root in roots:
        if not os.path.isabs(root):
            _log.warning(
                "Ignoring [%s] %s entry %r: not an absolute path", CONFIG_SECTION, ROOTS_OPTION, root
            )
    return [root for root in roots if os.path.isabs(root)]


class NotServed(Exception):
    """The route must not serve the file; the reason is for the API server's log, never for the client."""


@dataclass
class ServedImage:
    """An image the route may serve: its file open (positioned at its start), size, type and digest."""

    file: IO[bytes]
    size: int
    content_type: str
    sha256: str

    def chunks(self) -> Iterator[bytes]:
        """Yield the file's bytes from the descriptor that was checked, then close it."""
        try:
            left = self.size
            while left > 0:
                chunk = self.file.read(min(SERVE_CHUNK_BYTES, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
        finally:
            self.file.close()


def open_served_image(path: str, sha256: str, roots: Sequence[str]) -> ServedImage:
    """
    Open a stored image for the route, after every check; ``NotServed`` names the first that fails.

    ``path`` must be absolute and already normal (no ``..``, ``.`` or doubled slash), and resolve,
    symbolic links followed, inside one of ``roots`` (resolved alike) to ``<data set>/part-<16 hex>/<file>``.
    The part's ``metadata.jsonl`` (resolved inside the same root) must list the file as an image of a
    type browsers show, with ``sha256``. The file is then opened once, without following a link, and its
    size and digest must still be the row's: the bytes served are read again from that same descriptor,
    so no rename or link placed after the checks changes what is served.
    """
    if not SHA256.fullmatch(sha256):
        raise NotServed("the digest is not 64 lowercase hex digits")
    if len(path) > MAX_PATH or "\x00" in path or not os.path.isabs(path) or os.path.normpath(path) != path:
        raise NotServed("the path is not an absolute, normal path")
    real = os.path.realpath(path)
    _root_of(real, roots)
    part, name = os.path.split(real)
    if not PART_NAME.fullmatch(os.path.basename(part)) or name.startswith(".") or name == METADATA_FILE:
        raise NotServed("the path is not a file of a data set's part")
    # A manifest that is a link to elsewhere is no manifest of this part.
    manifest = os.path.realpath(os.path.join(part, METADATA_FILE))
    if os.path.dirname(manifest) != part:
        raise NotServed("the part's manifest is a link to elsewhere")
    row = _manifest_row(manifest, name)
    if row.sha256 != sha256:
        raise NotServed("the manifest records another digest for the file")
    if row.kind != "image" or row.content_type not in IMAGE_TYPES:
        raise NotServed(f"the manifest records a {row.content_type or row.kind}, not an image")
    try:
        file = os.fdopen(os.open(real, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)), "rb")
    except OSError as error:
        raise NotServed(f"the file cannot be opened: {error.strerror}") from None
    try:
        _check_content(file, row)
    except BaseException:
        file.close()
        raise
    return ServedImage(file, row.bytes, row.content_type, sha256)


def _root_of(real: str, roots: Sequence[str]) -> str:
    """Return the resolved root ``real`` lies strictly inside; ``NotServed`` if none."""
    if not roots:
        raise NotServed(f"[{CONFIG_SECTION}] {ROOTS_OPTION} names no folder: nothing is served")
    for root in roots:
        resolved = os.path.realpath(root)
        if real != resolved and os.path.commonpath([real, resolved]) == resolved:
            return resolved
    raise NotServed(f"the file is under none of [{CONFIG_SECTION}] {ROOTS_OPTION}")


def _manifest_row(manifest: str, name: str) -> ManifestRow:
    """Return the manifest's row for ``name``; ``NotServed`` if the manifest is unreadable or lacks it."""
    try:
        with open(manifest, "rb") as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as error:
        raise NotServed(f"the part's manifest cannot be read: {error.strerror}") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise NotServed("the part's manifest is larger than any this provider writes")
    found = None
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            row = parse_line(line)[0]
        except ValueError:
            continue
        if row.file_name == name:
            found = row  # the last row for a name counts, as when the manifest is read to store
    if found is None:
        raise NotServed("the part's manifest does not list the file")
    return found


def _check_content(file: IO[bytes], row: ManifestRow) -> None:
    """Check the open file is a regular file of the row's size, digest and content type."""
    import stat

    # Here, not at the top: the API-server plugin imports this module's URL_PREFIX, and cdn brings the wire.
    from airflow_provider_apiframe.storage.cdn import MAX_IMAGE_BYTES

    info = os.fstat(file.fileno())
    if not stat.S_ISREG(info.st_mode):
        raise NotServed("the path is not a regular file")
    if info.st_size != row.bytes or info.st_size > MAX_IMAGE_BYTES:
        raise NotServed("the file's size is not the manifest's (or over the image cap)")
    digest = hashlib.sha256()
    head = file.read(HEAD_BYTES)
    digest.update(head)
    left = row.bytes - len(head)
    while left > 0 and (chunk := file.read(min(SERVE_CHUNK_BYTES, left))):
        digest.update(chunk)
        left -= len(chunk)
    # The row's bytes exactly: a file cut or grown since the size was read is not the file recorded.
    if left or file.read(1) or digest.hexdigest() != row.sha256:
        raise NotServed("the file's bytes no longer have the manifest's digest")
    media = sniff(head)
    if media is None or media.content_type != row.content_type:
        raise NotServed("the file's bytes are not the manifest's content type")
    file.seek(0)


def _warn_if_not_served(local: str, log: Log) -> None:
    """Say so in the task's log when this process's config shows the API server would refuse the file."""
    roots = review_roots()
    if not roots:
        log.info(
            "Serving %s for review needs its folder in [%s] %s of the API server (not set here)",
            local,
            CONFIG_SECTION,
            ROOTS_OPTION,
        )
        return
    try:
        _root_of(os.path.realpath(local), roots)
    except NotServed:
        log.warning(
            "%s is under none of [%s] %s (%s): the API server will refuse to serve it",
            local,
            CONFIG_SECTION,
            ROOTS_OPTION,
            ", ".join(roots),
        )
