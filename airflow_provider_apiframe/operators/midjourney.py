"""
The operator that runs a Midjourney action on an earlier Midjourney job.

Upsample, variation, inpaint, outpaint or pan. A face over the job core. DAG files import this module on
every parse, so it imports neither ``requests``, ``aiohttp`` nor the http provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_apiframe.catalogue.operations import MIDJOURNEY_ACTION, JobRequest
from airflow_provider_apiframe.links import ApiframeImageLink
from airflow_provider_apiframe.operators.job import ApiframeJobOperator


class ApiframeMidjourneyActionOperator(ApiframeJobOperator):
    """
    Run a Midjourney action on an earlier job and return the new job's image URLs.

    ``POST /v2/images/midjourney/action``. ``upsample`` (one image) and ``variation`` (a new grid of
    four) take ``index``, 1 to 4, the image of a completed grid job; ``inpaint`` (``options``: ``mask``,
    a base64 mask, and an optional ``prompt``), ``outpaint`` (``zoomRatio`` 1.5 or 2) and ``pan``
    (``direction``) act on a completed ``upsample`` job. An action the parent job does not offer is
    refused by the API with 409: ``ApiframeConflictError``, which spends no Airflow retry.

    :param action: ``upsample``, ``variation``, ``inpaint``, ``outpaint`` or ``pan``. Templated.
    :param parent_job_id: The job to act on: an upstream Midjourney task's job id, e.g.
        ``"{{ ti.xcom_pull(task_ids='grid', key='job_id') }}"``. Templated.
    :param index: Which image of the grid (1 to 4), for ``upsample`` and ``variation``. Templated.
    :param options: The action's other fields (``mask``, ``prompt``, ``zoomRatio``, ``direction``).
        Templated.
    :param kwargs: Everything else ``ApiframeJobOperator`` takes (connection, deferrable,
        poll_interval, timeout, store_to) and ``BaseOperator``'s arguments.
    """

    template_fields: Sequence[str] = ("action", "parent_job_id", "index", "options", "store_to")
    ui_color = "#ece8fd"
    operator_extra_links = (ApiframeImageLink(),)
    operation = MIDJOURNEY_ACTION

    def __init__(
        self,
        *,
        action: str,
        parent_job_id: str,
        index: int | None = None,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=action, **kwargs)
        self.action = action
        self.parent_job_id = parent_job_id
        self.index = index
        self.options = options if options is not None else {}
        self.check_literals()

    def job_request(self) -> JobRequest:
        """Ask for the action on the parent job, with its other fields from ``options``."""
        fields: dict[str, Any] = {"parentJobId": self.parent_job_id}
        if self.index is not None:
            fields["index"] = self.index
        options = {**fields, **self.options} if isinstance(self.options, Mapping) else self.options
        return JobRequest(model=self.action, options=options)
