"""
A LoRA's training images, gathered from wherever they are and checked against the API's rules.

Images may be a data set this provider stored (its folder, or its ``metadata.jsonl``), optionally
filtered by its manifest's columns, or a list of local paths, ``ObjectStoragePath``s, storage URIs and
http(s) URLs (an upstream task's output among them). A URL is downloaded to a local folder first (the
training form takes files, not URLs). Every rule is checked before anything is sent: 15 to 30 images,
JPEG, PNG or WebP by their bytes, at most 10 MB each and 100 MB in all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_apiframe.exceptions import ApiframeError, ApiframeValidationError, shown
from airflow_provider_apiframe.storage.inputs import InputFile, read_input
from airflow_provider_apiframe.utils.logs import Log

MIN_IMAGES, MAX_IMAGES = 15, 30
MAX_IMAGE_BYTES = 10_000_000
MAX_TOTAL_BYTES = 100_000_000
TYPES = ("image/jpeg", "image/png", "image/webp")
METADATA_FILE = "metadata.jsonl"


def gather_images(
    images: Any,
    download_to: str,
    *,
    conn_id: str | None = None,
    where: Mapping[str, Any] | None = None,
    log: Log,
) -> list[InputFile]:
    """
    Return every training image, read and checked; one error naming each bad image and rule otherwise.

    ``where`` keeps the rows of a data set whose manifest columns have the given values (a value, or a
    list of them). URLs are downloaded into ``download_to``, a folder the caller removes.
    """
    sources = _sources(images, conn_id, where, log)
    urls = [(index, source) for index, source in enumerate(sources) if _is_url(source)]
    problems: dict[str, list[str]] = {}
    if urls:
        from airflow_provider_apiframe.storage.image_store import download_images

        try:
            paths = download_images([url for _, url in urls], download_to, max_bytes=MAX_IMAGE_BYTES, log=log)
        except ApiframeError as error:
            raise ApiframeValidationError(
                "Training images could not be downloaded", details={"images": [str(error)]}
            ) from None
        for (index, _), path in zip(urls, paths, strict=True):
            sources[index] = path
    files: list[InputFile] = []
    for index, source in enumerate(sources):
        try:
            file = read_input(source, "image", conn_id)
        except ApiframeValidationError as error:
            problems[f"images[{index}]"] = [str(error)]
            continue
        if file.content_type not in TYPES:
            problems[f"images[{index}]"] = [
                f"{file.source} is {file.content_type}; a LoRA trains on JPEG, PNG or WebP"
            ]
        elif file.size > MAX_IMAGE_BYTES:
            problems[f"images[{index}]"] = [f"{file.source} is {file.size / 1e6:.1f} MB; at most 10 MB each"]
        files.append(file)
    if not MIN_IMAGES <= len(sources) <= MAX_IMAGES:
        problems.setdefault("images", []).append(f"a LoRA trains on 15 to 30 images, got {len(sources)}")
    total = sum(file.size for file in files)
    if total > MAX_TOTAL_BYTES:
        problems.setdefault("images", []).append(
            f"the images are {total / 1e6:.1f} MB in all; at most 100 MB"
        )
    if problems:
        raise ApiframeValidationError("Invalid training images", details=problems)
    return files


def _sources(images: Any, conn_id: str | None, where: Mapping[str, Any] | None, log: Log) -> list[Any]:
    """Every image the argument names, in order: a data set's files, or the list's items flattened."""
    if isinstance(images, str | os.PathLike) and not _is_url(images):
        return _data_set_files(images, conn_id, where, log)
    if where:
        raise ApiframeValidationError(
            "A filter without a data set",
            details={"images_where": ["filters a data set's rows: images is a list"]},
        )
    if isinstance(images, str) or not isinstance(images, Sequence):
        raise ApiframeValidationError(
            "Invalid training images",
            details={"images": [f"must be a data set's folder or a list of images, got {shown(images)}"]},
        )
    # A mapped upstream task's output is a list of lists.
    return [item for entry in images for item in (entry if isinstance(entry, list | tuple) else [entry])]


def _data_set_files(folder: Any, conn_id: str | None, where: Mapping[str, Any] | None, log: Log) -> list[Any]:
    from airflow_provider_apiframe.storage.data_set import read_data_set
    from airflow_provider_apiframe.storage.manifest import ManifestRow

    text = str(folder)
    if text.rstrip("/").endswith(METADATA_FILE):
        text = text.rstrip("/")[: -len(METADATA_FILE)]
    listed = read_data_set(text, conn_id, log=log)
    wanted = {
        column: value if isinstance(value, list | tuple) else [value]
        for column, value in (where or {}).items()
    }
    columns = {field.name for field in fields(ManifestRow)}
    unknown = sorted(set(wanted) - columns)
    if unknown:
        raise ApiframeValidationError(
            "Unknown columns",
            details={"images_where": [f"{', '.join(unknown)}: the columns are {', '.join(sorted(columns))}"]},
        )
    kept = []
    for entry in listed:
        row = entry.row
        if row.kind != "image":
            continue
        if any(
            str(getattr(row, column, None)) not in [str(v) for v in values]
            for column, values in wanted.items()
        ):
            continue
        kept.append(entry.path)
    if not kept:
        raise ApiframeValidationError(
            "No training images",
            details={"images": [f"no image of {shown(text)} matches {dict(where or {})}"]},
        )
    return kept


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")
