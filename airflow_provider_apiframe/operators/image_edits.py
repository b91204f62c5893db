"""
Operators that work on an image: edit (inpaint, outpaint), upscale, background removal.

Faces over the job core: each takes ``model=`` and ``options=`` (the model's parameter block, with the
input ``image`` in it) and returns the URLs of the images the job made. DAG files import this module on
every parse, so it imports neither ``requests``, ``aiohttp`` nor the http provider.
"""

from __future__ import annotations

from airflow_provider_apiframe.catalogue.operations import BACKGROUND_REMOVAL, IMAGE_EDIT, IMAGE_UPSCALE
from airflow_provider_apiframe.links import ApiframeImageLink
from airflow_provider_apiframe.operators.job import ApiframeModelOperator


class ApiframeImageEditOperator(ApiframeModelOperator):
    """
    Inpaint or outpaint an image with ``flux-fill-pro`` and return the edited image's URL.

    ``POST /v2/images/edit``. ``options`` is the ``fluxFillParams`` block: ``image`` (required),
    ``mask``, ``prompt`` (required), ``mode`` (``inpaint`` or ``outpaint``, required), ``outpaint``,
    ``guidance``, ``steps``, ``output_format``, ... The same idempotent submit, deferral, resumption,
    ``store_to`` and typed errors as ``ApiframeImageGenerateOperator``.

    :param model: ``flux-fill-pro``. Templated.
    :param options: The model's block. Templated.
    """

    operation = IMAGE_EDIT
    ui_color = "#fde8f3"
    operator_extra_links = (ApiframeImageLink(),)


class ApiframeImageUpscaleOperator(ApiframeModelOperator):
    """
    Upscale an image and return the larger image's URL.

    ``POST /v2/images/upscale``: ``topaz-image-upscale`` (``topazUpscaleParams``: ``image``,
    ``upscale_factor`` 1, 2, 4 or 6, ``model_type``, face enhancement, ...) or ``clarity-upscale``
    (``clarityUpscaleParams``: ``image``, ``scale_factor``, ``creativity``, ``prompt``, ...).

    :param model: ``topaz-image-upscale`` or ``clarity-upscale``. Templated.
    :param options: The model's block, with the input ``image``. Templated.
    """

    operation = IMAGE_UPSCALE
    ui_color = "#e8f3fd"
    operator_extra_links = (ApiframeImageLink(),)


class ApiframeBackgroundRemoveOperator(ApiframeModelOperator):
    """
    Remove an image's background and return the cut-out image's URL.

    ``POST /v2/images/background-remove``: ``bria-bg-remove`` (``briaBgRemoveParams``: ``image``,
    ``content_moderation``) or ``851-bg-remove`` (``lab851BgRemoveParams``: ``image``,
    ``background_type``, ``format``, ``threshold``, ``reverse``).

    :param model: ``bria-bg-remove`` or ``851-bg-remove``. Templated.
    :param options: The model's block, with the input ``image``. Templated.
    """

    operation = BACKGROUND_REMOVAL
    ui_color = "#e8fdf0"
    operator_extra_links = (ApiframeImageLink(),)
