"""
An operator that keeps the outputs of finished jobs (images, videos, audio) in a data set of your own storage.

It copies them before apiframe's CDN purges them (24 hours after each job).

DAG files import this module on every parse, so it imports neither ``requests``, the http provider, the hook
nor the copying code: they are imported where the task runs.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_apiframe.exceptions import ApiframeValidationError, shown
from airflow_provider_apiframe.operators.arguments import is_literal
from airflow_provider_apiframe.utils.ids import is_uuid

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_apiframe.storage.image_store import StoredImage

# An asset event's extra lives in the metadata database: it names this many files, and the manifest the rest.
EVENT_PATHS = 100
UNFINISHED_NAMED = 10


@dataclass(frozen=True)
class JobReference:
    """A job to store the outputs of, and the batch result row it came from, if any."""

    job_id: str | None
    row: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        """Name the job as errors do: by its batch row's id where it came from one."""
        if self.row is not None and self.row.get("id") is not None:
            return f"row {self.row['id']!r} (job {self.job_id})"
        return f"job {self.job_id}"


class ApiframeStoreImagesOperator(BaseOperator):
    """
    Copy every output of finished apiframe jobs into a data set on any object storage; return their paths.

    Every kind a job makes is kept, despite the name (kept for the DAGs that use it): images (PNG, JPEG,
    WEBP), videos (MP4, MOV, WebM) and audio (WAV, MP3, OGG, M4A), each named by its job and number with
    the extension of its content.

    ``jobs`` is a job id, a batch operator's result rows, or a list of either: an ``XComArg`` of mapped
    generate tasks' ``job_id`` XComs, or a template rendering to any of these. Each job is read with
    ``GET /v2/jobs/{id}`` for its model, prompt, parameter block, credits and creation time; a job (or a
    batch row) that did not complete is skipped and logged.

    The files land in ``<destination>/part-<hex>/`` with the Hugging Face folder-dataset manifest
    ``metadata.jsonl`` beside them (with each file's ``kind``, ``content_type``, ``width``, ``height``
    and ``duration``), so ``datasets.load_dataset("imagefolder", data_dir=<destination>)`` loads every
    run's images with their columns (with ``filters=[("kind", "==", "image")]`` once the data set holds
    videos or audio; what loads those is in ``storage/data_set.py``). The part is named after the set of
    jobs: a retry, or another run storing the same jobs, finds the files already stored and copies
    nothing again.

    With an ``Asset`` (``Dataset`` on Airflow 2) among ``outlets``, its event's extra says where the
    files went: ``data_set``, ``manifest``, ``count``, ``skipped`` and the first 100 ``paths``.

    :param jobs: The jobs whose outputs to store. Templated.
    :param destination: The data set's folder: ``file://``, ``s3://``, ``gs://``, ``memory://``, any
        fsspec protocol, or a local path. Templated.
    :param destination_conn_id: The Airflow connection with the destination's credentials, if it needs one.
    :param apiframe_conn_id: The Airflow connection holding the API key (to read the jobs; the CDN gets none).
    """

    template_fields: Sequence[str] = ("jobs", "destination")
    ui_color = "#d8f3e9"

    def __init__(
        self,
        *,
        jobs: Any,
        destination: str | ObjectStoragePath,
        destination_conn_id: str | None = None,
        apiframe_conn_id: str = "apiframe_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.jobs = jobs
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.apiframe_conn_id = apiframe_conn_id
        self._stored: list[StoredImage] = []
        # Literal jobs are checked now, so a typo fails the DAG import; templated ones once rendered.
        if is_literal(jobs):
            read_jobs(jobs)

    def execute(self, context: Context) -> list[str]:
        """Read every job, copy its outputs into the data set and return the stored paths."""
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
        from airflow_provider_apiframe.storage.image_store import (
            ImageToStore,
            data_set_path,
            images_from_job,
            jobs_writer,
            store_images,
        )
        from airflow_provider_apiframe.wire.jobs import JobStatus, parse_job

        references = read_jobs(self.jobs)
        hook = ApiframeHook(apiframe_conn_id=self.apiframe_conn_id)
        images: list[ImageToStore] = []
        unfinished: list[str] = []
        for reference in references:
            status = reference.row.get("status") if reference.row is not None else None
            if reference.job_id is None or status not in (None, JobStatus.COMPLETED.value):
                unfinished.append(f"{reference.label}: {status or 'no job'}")
                continue
            # The raw answer, not just a Job: the request it stored (`input`) gives prompt and options.
            answer = hook.get_job_answer(reference.job_id)
            job = parse_job(answer)
            if job.status is not JobStatus.COMPLETED:
                unfinished.append(f"{reference.label}: {job.status.value}")
                continue
            images += images_from_job(answer, reference.row)
        if unfinished:
            self.log.info(
                "Skipping %d of %d jobs that did not complete: %s%s",
                len(unfinished),
                len(references),
                "; ".join(unfinished[:UNFINISHED_NAMED]),
                " ..." if len(unfinished) > UNFINISHED_NAMED else "",
            )
        data_set = data_set_path(self.destination, self.destination_conn_id)
        stored = store_images(
            images,
            data_set,
            # Every job asked for, finished or not: a retry after one finishes still uses the same part.
            writer=jobs_writer(ref.job_id for ref in references if ref.job_id is not None),
            log=self.log,
        )
        self._announce(context, str(data_set), stored, skipped=len(unfinished))
        self._stored = stored
        return [image.path for image in stored]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """Report the CDN folders read and the data set's folders written, when OpenLineage is installed."""
        from airflow_provider_apiframe.lineage import store_lineage

        return store_lineage(
            [image.row.source_url for image in self._stored], [image.path for image in self._stored]
        )

    def _announce(self, context: Context, data_set: str, stored: list[StoredImage], skipped: int) -> None:
        """Say in each outlet asset's event where the files went."""
        from airflow.providers.common.compat.sdk import Asset

        assets = [outlet for outlet in self.outlets if isinstance(outlet, Asset)]
        if not assets:
            return
        extra: dict[str, Any] = {
            "data_set": data_set,
            "manifest": stored[0].manifest if stored else None,
            "count": len(stored),
            "skipped": skipped,
            "paths": [image.path for image in stored[:EVENT_PATHS]],
        }
        for asset in assets:
            context["outlet_events"][asset].extra = extra


def read_jobs(jobs: Any) -> list[JobReference]:
    """
    Return every job named by ``jobs``, in order, once each.

    ``jobs`` holds job id strings, batch result rows (dicts with ``job_id``), lists of either at any depth
    (mapped tasks' XComs), or the text of such a list as a template renders it (JSON, or Python's repr).
    """
    references: dict[str, JobReference] = {}
    without_job: list[JobReference] = []

    def visit(item: Any, path: str) -> None:
        if isinstance(item, str):
            item = _parse_text(item, path)
        if isinstance(item, str):
            job_id = _job_id(item, path)
            references.setdefault(job_id.lower(), JobReference(job_id))
        elif isinstance(item, Mapping):
            if item.get("job_id") is None:
                # A batch row whose job was never made (or given up): nothing to store, but worth a log line.
                without_job.append(JobReference(None, item))
            else:
                job_id = _job_id(item["job_id"], f"{path}.job_id")
                references.setdefault(job_id.lower(), JobReference(job_id, item))
        elif isinstance(item, Sequence) and not isinstance(item, bytes):
            for index, element in enumerate(item):
                visit(element, f"{path}[{index}]")
        else:
            raise ApiframeValidationError(
                "Invalid jobs",
                details={
                    path: [f"must be a job id, a batch result row or a list, got {type(item).__name__}"]
                },
            )

    try:
        visit(jobs, "jobs")
    except RecursionError:
        raise ApiframeValidationError(
            "Invalid jobs", details={"jobs": ["lists nested too deeply to be a task's result"]}
        ) from None
    return [*references.values(), *without_job]


def _parse_text(text: str, path: str) -> Any:
    text = text.strip()
    if not text.startswith("["):
        return text
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            continue
    raise ApiframeValidationError(
        "Invalid jobs", details={path: [f"looks like a list but is neither JSON nor Python: {text[:80]!r}"]}
    )


def _job_id(value: Any, path: str) -> str:
    if not isinstance(value, str) or not is_uuid(value.strip()):
        raise ApiframeValidationError(
            "Invalid jobs",
            details={path: [f"must be a job's UUID (the submit answer's jobId), got {shown(value)}"]},
        )
    return value.strip()
