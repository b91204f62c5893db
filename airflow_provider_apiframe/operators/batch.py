"""
Operators that generate a whole data set of images in one task: up to 10,000 rows, paid once per row.

Faces over the batch core (``job_batch.py``). DAG files import this module on every parse, so it loads
neither ``requests``, ``aiohttp`` nor the http provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow_provider_apiframe.batch.rows import Row
from airflow_provider_apiframe.catalogue.operations import IMAGE_GENERATION, operation_for
from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.links import ApiframeImageLink
from airflow_provider_apiframe.operators.arguments import errors_named_for, is_literal
from airflow_provider_apiframe.operators.imagen import check_imagen_model, imagen_options
from airflow_provider_apiframe.operators.job_batch import ApiframeBatchJobOperator


class ApiframeBatchGenerateOperator(ApiframeBatchJobOperator):
    """
    Generate one image job per row of ``prompts`` with any apiframe image model; return one result per row.

    ``prompts`` is a list of prompt strings, or of dicts ``{"prompt": ..., "id": ..., <image options>}``
    whose options override ``image_options`` for that row and whose ``id`` (string or integer, unique)
    comes back in the row's result. Every row is checked before anything is spent, and the batch's cost
    against the team's balance (``GET /v2/me``): a batch that cannot be paid fails at once.

    Submitting and waiting both run on the triggerer, within the connection's request budget, so the
    task holds a worker slot only for a moment at its start and end. Each row is submitted under its own
    idempotency key (task instance and row), so a restarted triggerer or a retried task gets each row's
    job back instead of paying again; on Airflow 3.3+ the rows' job ids are also kept in the task state
    store, so that a retry sends no submit at all for rows that have a job. A row whose job ends FAILED
    or CANCELLED is resubmitted under its successor key, at most ``max_resubmissions`` times.

    The return value (XCom) lists one dict per row, in the order of ``prompts``: ``prompt``, ``id``,
    ``job_id``, ``status`` (``COMPLETED``, ``FAILED``, ``CANCELLED``, ``TIMEOUT`` or ``ERROR``),
    ``images``, ``error`` and ``credit_cost``. By default the task fails once the whole batch has ended
    if any row has no image, naming them; with ``accept_partial=True`` it succeeds and returns them all.

    :param prompts: The rows, up to 10,000. Templated (or an upstream task's output).
    :param model: The model of every row. Templated.
    :param image_options: The model's image options for every row (a row's own override them). Templated.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param poll_interval: Longest wait between two status polls of one job, in seconds.
    :param timeout: Seconds (or a timedelta) the jobs may take after the last submit before their rows
        end with ``TIMEOUT``.
    :param max_resubmissions: How many times a row whose job failed is submitted again (default 2).
    :param accept_partial: Succeed with the rows that have images even if others have none.
    :param store_to: A data set folder on any object storage (``file://``, ``s3://``, ...): every row's
        images are copied there with their manifest (prompt, options and the row's ``id`` beside each
        file), as ``ApiframeStoreImagesOperator`` does, and each result row gains ``paths``. Templated.
    :param store_conn_id: The Airflow connection with the storage's credentials, if it needs one.
    """

    template_fields: Sequence[str] = ("prompts", "model", "image_options", "store_to")
    ui_color = "#e9d8fd"
    operator_extra_links = (ApiframeImageLink(),)
    operation = IMAGE_GENERATION

    def __init__(
        self,
        *,
        prompts: Any,
        model: str,
        image_options: Mapping[str, Any] | None = None,
        apiframe_conn_id: str = "apiframe_default",
        poll_interval: float = 5.0,
        timeout: float | timedelta = 600.0,
        max_resubmissions: int = 2,
        accept_partial: bool = False,
        store_to: str | None = None,
        store_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model=model,
            apiframe_conn_id=apiframe_conn_id,
            poll_interval=poll_interval,
            timeout=timeout,
            max_resubmissions=max_resubmissions,
            accept_partial=accept_partial,
            store_to=store_to,
            store_conn_id=store_conn_id,
            **kwargs,
        )
        self.prompts = prompts
        self.image_options = dict(image_options or {})
        self.check_literals()

    rows_argument = "prompts"

    def batch_input(self) -> tuple[Any, Any]:
        """Read the rows from ``prompts``, each starting from ``image_options``."""
        return self.prompts, self.image_options


class ImagenBatchGenerateOperator(ApiframeBatchGenerateOperator):
    """
    Generate a data set of images with an Imagen model.

    ``ApiframeBatchGenerateOperator`` with Imagen's options as arguments. A row's own options override
    them.

    :param prompts: The rows (see ``ApiframeBatchGenerateOperator``). Templated.
    :param aspect_ratio: ``1:1`` (default), ``9:16``, ``16:9``, ``3:4`` or ``4:3``.
    :param output_format: ``jpg`` (default) or ``png``.
    :param image_size: ``1K`` (default) or ``2K``.
    :param model: ``imagen-4`` (default), ``imagen-4-ultra``, ``imagen-4-fast``, ``imagen-3`` or
        ``imagen-3-fast``.
    """

    def __init__(
        self,
        *,
        prompts: Any,
        aspect_ratio: str = "1:1",
        output_format: str = "jpg",
        image_size: str = "1K",
        model: str = "imagen-4",
        **kwargs: Any,
    ) -> None:
        options = imagen_options(aspect_ratio, output_format, image_size)
        super().__init__(prompts=prompts, model=model, image_options=options, **kwargs)

    def _rows(self, *, read_files: bool = True) -> list[Row]:
        # Reached at parse time only for a literal model, so the model is always known here.
        with errors_named_for(self.task_id):
            check_imagen_model(self.model)
        return super()._rows(read_files=read_files)


class ApiframeBatchOperator(ApiframeBatchJobOperator):
    """
    Run one job of any operation per row, with the batch's guarantees; return one result per row.

    ``ApiframeBatchGenerateOperator`` for every other operation: each row is checked before anything is
    spent, the batch's cost against the balance, one paid job per row (each under its own idempotency
    key), resumable, with partial failure and results in the order of ``rows``. A row is a dict of the
    model's options (with an optional ``id``, and ``prompt`` where the operation's body has one), or, for
    an operation with one required input, that input: a URL, an upstream task's output, a local path, an
    ``ObjectStoragePath`` or a storage URI, uploaded as the single-job operators upload it (each file
    once, however many rows name it). Each result row holds the outputs under the operation's result
    kind: ``images``, ``videos`` or ``audio``.

    :param operation: The operation, by its endpoint (``/v2/images/upscale``) or its name (``image
        upscale``, ``video generation``, ...).
    :param model: The model of every row. Templated.
    :param rows: The rows, up to 10,000. Templated (or an upstream task's output).
    :param data_set: Instead of ``rows``, a data set this provider stored (its folder, on any object
        storage): one row per file of the kind the operation's input takes, that file as the input and
        its file name's stem (``<job id>-<n>``) as the row's ``id``. Read when the task runs. Templated.
    :param data_set_conn_id: The connection with the data set's storage credentials, if it needs one.
    :param options: The options every row starts from (a row's own override them). Templated.
    :param kwargs: Everything else ``ApiframeBatchGenerateOperator`` takes (``accept_partial``,
        ``max_resubmissions``, ``timeout``, ``store_to``, ...) and ``BaseOperator``'s arguments.
    """

    template_fields: Sequence[str] = ("rows", "data_set", "model", "options", "store_to")
    ui_color = "#e9d8fd"
    operator_extra_links = (ApiframeImageLink(),)

    def __init__(
        self,
        *,
        operation: str,
        model: str,
        rows: Any = None,
        data_set: str | None = None,
        data_set_conn_id: str | None = None,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        with errors_named_for(self.task_id):
            self.operation = operation_for(operation)
            if self.operation.discriminator != "model":
                raise ApiframeValidationError(
                    "Not an operation of models",
                    details={
                        "operation": [
                            f"{self.operation.name} acts on one parent job: run one task per action "
                            "(map its operator with .expand())"
                        ]
                    },
                )
            if (rows is None) == (data_set is None):
                raise ApiframeValidationError(
                    "Rows or a data set",
                    details={"rows": ["give either rows or data_set (a data set's folder), not both"]},
                )
            if data_set is not None and data_set == kwargs.get("store_to"):
                raise ApiframeValidationError(
                    "A data set read and written at once",
                    details={
                        "store_to": [
                            "must be another folder than data_set: its rows are read while the batch runs"
                        ]
                    },
                )
        self.rows = rows
        self.data_set = data_set
        self.data_set_conn_id = data_set_conn_id
        self.options = dict(options or {})
        self.check_literals()

    def check_literals(self) -> None:
        """Check literal rows now; a data set's rows are read when the task runs (its model now)."""
        if self.data_set is None:
            super().check_literals()
        elif is_literal(self.model):
            with errors_named_for(self.task_id):
                self.operation.model(self.model)

    def batch_input(self) -> tuple[Any, Any]:
        """Read the rows from ``rows``, or from the data set's files, each starting from ``options``."""
        if self.data_set is None:
            return self.rows, self.options
        return self._data_set_rows(), self.options

    def _data_set_rows(self) -> list[dict[str, Any]]:
        from airflow_provider_apiframe.storage.data_set import read_data_set

        with errors_named_for(self.task_id):
            main = self.operation.model(self.model).main_input
            if main is None:
                raise ApiframeValidationError(
                    "No input to read from a data set",
                    details={"data_set": [f"{self.model} takes no required file input: give rows"]},
                )
            files = [
                listed
                for listed in read_data_set(str(self.data_set), self.data_set_conn_id, log=self.log)
                if listed.row.kind == main.input
            ]
            if not files:
                raise ApiframeValidationError(
                    "An empty data set",
                    details={"data_set": [f"holds no {main.input} file: {self.data_set!r}"]},
                )
        return [{"id": listed.row.file_name.rpartition(".")[0], main.name: listed.path} for listed in files]
