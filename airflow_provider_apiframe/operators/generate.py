"""
The operator that generates images with any apiframe image model: a face over the job core.

DAG files import this module on every parse, so it imports neither ``requests``, ``aiohttp`` nor the http
provider: the hook and the trigger are imported where a task runs. The model catalogue is read on the
first check of a model, not on import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow_provider_apiframe.catalogue.operations import IMAGE_GENERATION, JobRequest
from airflow_provider_apiframe.links import ApiframeImageLink
from airflow_provider_apiframe.operators.job import ApiframeJobOperator


class ApiframeImageGenerateOperator(ApiframeJobOperator):
    """
    Generate images with any apiframe image model and return their URLs.

    ``image_options`` is the model's parameter block (``fluxParams``, ``ideogramParams``, ...) as the
    vendor's spec defines it; it is checked against the model catalogue before anything is spent: an
    unknown key, a wrong type, a value out of range or a missing required input fails with an error
    naming the field and what it allows. (It is not called ``params``: Airflow reserves that name for a
    task's Params and merges the DAG's into it.)

    The task submits ``POST /v2/images/generate`` under an idempotency key made from the task instance
    and the request, so a retried try gets back the job it already paid for. It pushes the job id to XCom
    under ``job_id``, then (by default) defers to ``ApiframeJobTrigger`` and frees its worker slot. Its
    return value, and so its ``return_value`` XCom, is the list of image URLs. The CDN keeps them for 24
    hours: copy the files to your own storage downstream. The credits the job cost are pushed under
    ``credit_cost`` (None where the API did not say).

    On Airflow 3.3+ the job id is also kept in the task state store (``ResumableJobMixin``): a retry
    reconnects to a running job, or takes a finished one's images, without sending a submit at all, and
    only a FAILED or CANCELLED job is replaced. On older Airflow every try submits, and the idempotency
    key alone makes the API hand back the same job for 24 hours.

    :param model: Any model of the catalogue (``flux-1.1-pro``, ``ideogram-v3-turbo``, ``imagen-4``,
        ...). Templated.
    :param prompt: What to draw, 1 to 2000 characters (5000 for some models). Templated.
    :param image_options: The model's parameter block, e.g. ``{"width": 1024, "height": 768}`` for
        Flux. Templated.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param deferrable: Wait on the triggerer (default) rather than in the worker.
    :param poll_interval: Longest wait between two status polls, in seconds. Polls come sooner when the
        job's progress says it is about to finish.
    :param timeout: Seconds (or a timedelta) the job may take from submit to end before the task fails.
    :param store_to: A data set folder on any object storage (``file://``, ``s3://``, ...): the images
        are copied there with their manifest, as ``ApiframeStoreImagesOperator`` does, and the task
        returns the stored paths instead of the CDN URLs: local paths for a local folder, URLs for
        object storage. Templated.
    :param store_conn_id: The Airflow connection with the storage's credentials, if it needs one.
    """

    template_fields: Sequence[str] = ("prompt", "model", "image_options", "store_to")
    ui_color = "#f3e8ff"
    operator_extra_links = (ApiframeImageLink(),)
    operation = IMAGE_GENERATION

    def __init__(
        self,
        *,
        model: str,
        prompt: str,
        image_options: Mapping[str, Any] | None = None,
        apiframe_conn_id: str = "apiframe_default",
        deferrable: bool = True,
        poll_interval: float = 5.0,
        timeout: float | timedelta = 600.0,
        store_to: str | None = None,
        store_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model=model,
            apiframe_conn_id=apiframe_conn_id,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            store_to=store_to,
            store_conn_id=store_conn_id,
            **kwargs,
        )
        self.prompt = prompt
        self.image_options = image_options if image_options is not None else {}
        self.check_literals()

    def job_request(self) -> JobRequest:
        """Ask for one generation of ``prompt`` with ``image_options`` as the model's block."""
        return JobRequest(model=self.model, options=self.image_options, prompt=self.prompt)
