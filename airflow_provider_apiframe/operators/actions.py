"""
The operators that act on an earlier job: Midjourney's grid and image actions, Suno's track actions.

Faces over the job core. DAG files import this module on every parse, so it imports neither
``requests``, ``aiohttp`` nor the http provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_apiframe.catalogue.operations import MIDJOURNEY_ACTION, SUNO_ACTION
from airflow_provider_apiframe.links import ApiframeImageLink, ApiframeOutputLink
from airflow_provider_apiframe.operators.job import ApiframeActionOperator


class ApiframeMidjourneyActionOperator(ApiframeActionOperator):
    """
    Run a Midjourney action on an earlier job and return the new job's image URLs.

    ``POST /v2/images/midjourney/action``. ``upsample`` (one image) and ``variation`` (a new grid of
    four) take ``index``, 1 to 4, the image of a completed grid job; ``inpaint`` (``options``: ``mask``,
    a base64 mask, and an optional ``prompt``), ``outpaint`` (``zoomRatio`` 1.5 or 2) and ``pan``
    (``direction``) act on a completed ``upsample`` job. An action the parent job does not offer is
    refused by the API with 409: ``ApiframeConflictError``, which spends no Airflow retry.

    :param action: ``upsample``, ``variation``, ``inpaint``, ``outpaint`` or ``pan``. Templated.
    :param parent_job_id: The Midjourney job to act on. Templated.
    :param index: Which image of the grid (1 to 4), for ``upsample`` and ``variation``. Templated.
    :param options: The action's other fields (``mask``, ``prompt``, ``zoomRatio``, ``direction``).
        Templated.
    """

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
        super().__init__(action=action, parent_job_id=parent_job_id, index=index, options=options, **kwargs)


class ApiframeSunoActionOperator(ApiframeActionOperator):
    """
    Run a Suno action on a track of an earlier Suno job and return the new job's audio URLs.

    ``POST /v2/music/suno/action``: ``extend`` (from ``continueAt`` seconds, by default the track's end),
    ``cover`` (a new style, the same melody), ``add_vocals`` (``prompt``: the lyrics, required) and
    ``stems`` (vocals and instrumental as two files). The track is the parent's ``index`` (1 or 2) or its
    ``track_id``. An action the parent does not offer is a 409: ``ApiframeConflictError``.

    :param action: ``extend``, ``cover``, ``add_vocals`` or ``stems``. Templated.
    :param parent_job_id: The Suno job whose track the action takes. Templated.
    :param index: The parent's track, 1 or 2. Templated.
    :param track_id: The parent's track by its id, instead of ``index``. Templated.
    :param options: The action's other fields (``prompt``, ``style``, ``title``, ``continueAt``,
        ``negative_tags``, ``audio_weight``). Templated.
    """

    template_fields: Sequence[str] = (*ApiframeActionOperator.template_fields, "track_id")
    ui_color = "#fdf3e8"
    operator_extra_links = (ApiframeOutputLink(),)
    operation = SUNO_ACTION

    def __init__(
        self,
        *,
        action: str,
        parent_job_id: str,
        index: int | None = None,
        track_id: str | None = None,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            action=action,
            parent_job_id=parent_job_id,
            index=index,
            track_id=track_id,
            options=options,
            **kwargs,
        )
