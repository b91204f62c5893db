"""
Inputs from anywhere: what an image, mask, video or audio input of an operation may be.

An http(s) URL is sent as it is; an upstream apiframe task's output (a list of one URL) is that URL; a
local path, an ``ObjectStoragePath`` or a storage URI (``s3://...``, ``file://...``) is a file, read here
to check its type (from its bytes) and size against the API's caps before anything is sent, and then
uploaded (``POST /v2/uploads``). Until it is uploaded a file stands in the block as a placeholder URL made
from its sha256, so the block can be checked and the idempotency key stays the same on every try.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_apiframe.exceptions import ApiframeError, ApiframeValidationError, shown
from airflow_provider_apiframe.storage.media_type import HEAD_BYTES, sniff
from airflow_provider_apiframe.wire.multipart import FileToUpload

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_apiframe.catalogue.model_specs import ModelSpec

# The spec's caps on an upload, in bytes (MB read as 10^6, the stricter reading).
MAX_UPLOAD_BYTES = {"image": 25_000_000, "audio": 25_000_000, "video": 50_000_000}
# Where a file stands until it is uploaded: a URL the API would refuse, never sent.
STAND_IN_PREFIX = "https://uploads.invalid/sha256/"
READ_BLOCK = 1024 * 1024
TAKES = "PNG, JPEG, WebP, GIF, MP4, WebM, MOV, MP3, WAV, OGG or M4A"


@dataclass(frozen=True)
class InputFile:
    """A file given as an input, checked: where it is, what its bytes are, and their digest."""

    source: str
    path: ObjectStoragePath
    kind: str
    content_type: str
    size: int
    sha256: str

    @property
    def stand_in(self) -> str:
        """The placeholder URL the file holds in the block until it is uploaded."""
        return STAND_IN_PREFIX + self.sha256

    def to_upload(self) -> FileToUpload:
        """Describe the file for the upload request, which opens it once per try."""
        path = self.path

        def opener() -> IO[bytes]:
            return path.open("rb")  # type: ignore[no-any-return]

        return FileToUpload(size=self.size, content_type=self.content_type, open=opener)


@dataclass(frozen=True)
class ResolvedInputs:
    """A block whose files are checked: with each file as its placeholder URL, and the files by it."""

    options: dict[str, Any]
    files: dict[str, InputFile]

    def with_urls(self, urls: Mapping[str, str]) -> dict[str, Any]:
        """Return the block with each placeholder replaced by the file's uploaded URL."""
        return with_urls(self.options, urls)


def with_urls(options: Mapping[str, Any], urls: Mapping[str, str]) -> dict[str, Any]:
    """Return a block with each file's placeholder replaced by its uploaded URL."""
    return {name: _replace(value, urls) for name, value in options.items()}


class InputReader:
    """
    Read each file named as an input once, however many rows of a batch name it; keep them by placeholder.

    :param model: The model whose inputs are read.
    :param conn_id: The storage connection for storage URIs, if they need one.
    """

    def __init__(self, model: ModelSpec, conn_id: str | None = None) -> None:
        self.model = model
        self.conn_id = conn_id
        self.files: dict[str, InputFile] = {}
        self._read: dict[tuple[str, str], InputFile] = {}

    def resolve(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Check a block's files as ``resolve_inputs`` does; return it with their placeholders."""
        resolved = resolve_inputs(self.model, options, self.conn_id, read=self._read_once)
        self.files.update(resolved.files)
        return resolved.options

    def _read_once(self, source: Any, kind: str, conn_id: str | None) -> InputFile:
        key = (str(source), kind)
        if key not in self._read:
            self._read[key] = read_input(source, kind, conn_id)
        return self._read[key]


# What a file stands in as where it is not read (a DAG being parsed): a URL the checks accept.
UNREAD = STAND_IN_PREFIX + "0" * 64


def unread_stand_ins(model: ModelSpec, options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the block with every file input as a placeholder, without reading any: for parse-time checks."""
    resolved = unwrap_outputs(model, options)
    for name in model.inputs:
        value = resolved.get(name)
        if isinstance(value, list | tuple):
            resolved[name] = [UNREAD if is_file(item) else item for item in value]
        elif value is not None and is_file(value):
            resolved[name] = UNREAD
    return resolved


def is_file(value: Any) -> bool:
    """Whether an input value names a file to upload rather than a URL the API can read itself."""
    if isinstance(value, os.PathLike):
        return True
    return isinstance(value, str) and urlsplit(value).scheme not in ("http", "https")


def unwrap_outputs(model: ModelSpec, options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the block with each upstream task's output (a list of one value) given where one goes as it."""
    unwrapped = dict(options)
    for name in model.inputs:
        value = options.get(name)
        if (
            isinstance(value, list | tuple)
            and len(value) == 1
            and model.param(name).schema.get("type") != "array"
        ):
            unwrapped[name] = value[0]
    return unwrapped


def resolve_inputs(
    model: ModelSpec,
    options: Mapping[str, Any],
    conn_id: str | None,
    read: Callable[[Any, str, str | None], InputFile] | None = None,
) -> ResolvedInputs:
    """
    Check every file among the block's inputs (type and size, from its bytes); nothing is sent.

    An upstream task's output (a list holding one URL) given where one URL goes becomes that URL. Every
    bad input is reported in one ``ApiframeValidationError``, named by its field.
    """
    options = unwrap_outputs(model, options)
    resolved: dict[str, Any] = dict(options)
    files: dict[str, InputFile] = {}
    problems: dict[str, list[str]] = {}
    for name, kind in model.inputs.items():
        if name not in options:
            continue
        many = model.param(name).schema.get("type") == "array"
        value = options[name]
        items = list(value) if many and isinstance(value, list | tuple) else [value]
        out = []
        for index, item in enumerate(items):
            where = _field(model, name, index if many and isinstance(value, list | tuple) else None)
            if not is_file(item):
                out.append(item)
                continue
            try:
                file = (read or read_input)(item, kind, conn_id)
            except ApiframeValidationError as error:
                problems[where] = [str(error)]
                out.append(item)
                continue
            files[file.stand_in] = file
            out.append(file.stand_in)
        resolved[name] = out if many and isinstance(value, list | tuple) else out[0]
    if problems:
        raise ApiframeValidationError(f"Invalid inputs for {model.id}", details=problems)
    return ResolvedInputs(resolved, files)


def read_input(source: Any, kind: str, conn_id: str | None) -> InputFile:
    """Read a file given as an input of ``kind``: its type from its bytes, its size and sha256."""
    from airflow_provider_apiframe.storage.image_store import data_set_path

    # str(), not os.fspath(): Airflow 2's ObjectStoragePath (UPath) deprecates the latter for remote files.
    shown_source = shown(str(source) if isinstance(source, os.PathLike) else source, 200)
    try:
        path = data_set_path(source if not isinstance(source, os.PathLike) else str(source), conn_id)
        if not path.is_file():
            raise ApiframeValidationError(f"{shown_source} is not a file (or does not exist)")
        size = path.stat().st_size
        limit = MAX_UPLOAD_BYTES[kind]
        if size > limit:
            raise ApiframeValidationError(
                f"{shown_source} is {size / 1e6:.1f} MB; the API takes at most {limit // 1_000_000} MB "
                f"for {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
            )
        digest = hashlib.sha256()
        head = b""
        with path.open("rb") as stream:
            while block := stream.read(READ_BLOCK):
                head = head or block[:HEAD_BYTES]
                digest.update(block)
    except ApiframeValidationError:
        raise
    except (OSError, ValueError, ApiframeError) as error:
        raise ApiframeValidationError(f"{shown_source} cannot be read: {error}") from None
    media = sniff(head)
    if media is None:
        raise ApiframeValidationError(f"{shown_source} is not a file the API takes ({TAKES}, by its bytes)")
    if media.kind != kind:
        raise ApiframeValidationError(
            f"{shown_source} is {'an' if media.kind[0] in 'aeiou' else 'a'} {media.kind} "
            f"({media.content_type}), but this input takes {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
        )
    return InputFile(shown_source, path, media.kind, media.content_type, size, digest.hexdigest())


def _field(model: ModelSpec, name: str, index: int | None) -> str:
    where = f"{model.params_key}.{name}" if model.params_key else name
    return where if index is None else f"{where}[{index}]"


def _replace(value: Any, urls: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return urls.get(value, value)
    if isinstance(value, list):
        return [_replace(item, urls) for item in value]
    return value
