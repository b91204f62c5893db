"""
Operators that make and change video and music: video generation, edit and upscale, music generation.

Faces over the job core: each takes ``model=``, ``options=`` (the model's parameter block, with its inputs
such as ``image``, ``start_image`` or ``video``) and, where the body has one, ``prompt=``; each returns the
URLs of the files the job made. DAG files import this module on every parse, so it imports neither
``requests``, ``aiohttp`` nor the http provider.
"""

from __future__ import annotations

from airflow_provider_apiframe.catalogue.operations import (
    MUSIC_GENERATION,
    VIDEO_EDIT,
    VIDEO_GENERATION,
    VIDEO_UPSCALE,
)
from airflow_provider_apiframe.links import ApiframeOutputLink
from airflow_provider_apiframe.operators.job import ApiframeModelOperator


class ApiframeVideoGenerateOperator(ApiframeModelOperator):
    """
    Generate a video from a prompt (and, for image-to-video models, a start image) and return its URL.

    ``POST /v2/videos/generate``: 41 models in 14 families (``klingParams``, ``soraParams``,
    ``veoParams``, ``seedanceParams``, ``hailuoParams``, ``lumaParams``, ``wanParams``, ``runwayParams``,
    ...). Video jobs take minutes: give ``timeout`` room.

    :param model: One of the video models (``kling-2.1``, ``veo-3``, ...). Templated.
    :param prompt: What happens in the clip, up to 4000 characters. Templated.
    :param options: The model's block (``duration``, ``aspect_ratio``, ``start_image``, ...). Templated.
    """

    operation = VIDEO_GENERATION
    ui_color = "#e8f8fd"
    operator_extra_links = (ApiframeOutputLink(),)


class ApiframeVideoEditOperator(ApiframeModelOperator):
    """
    Edit a video by instruction and return the edited video's URL.

    ``POST /v2/videos/edit``: ``wan-2.7-videoedit`` (``wan27VideoeditParams``: ``video``, required, an
    optional ``reference_image``, ``resolution``, ``duration``, ...).

    :param model: ``wan-2.7-videoedit``. Templated.
    :param prompt: The instruction. Templated.
    :param options: The model's block, with the input ``video``. Templated.
    """

    operation = VIDEO_EDIT
    ui_color = "#e8f8fd"
    operator_extra_links = (ApiframeOutputLink(),)


class ApiframeVideoUpscaleOperator(ApiframeModelOperator):
    """
    Upscale a video and return the larger video's URL.

    ``POST /v2/videos/upscale``: ``topaz-video-upscale`` (``topazVideoParams``: ``video``,
    ``target_resolution`` and ``target_fps`` required, ``enhance_model``, ``subject_detection``).

    :param model: ``topaz-video-upscale``. Templated.
    :param options: The model's block, with the input ``video``. Templated.
    """

    operation = VIDEO_UPSCALE
    ui_color = "#e8f8fd"
    operator_extra_links = (ApiframeOutputLink(),)


class ApiframeMusicGenerateOperator(ApiframeModelOperator):
    """
    Generate music from a prompt and return the URLs of its audio files.

    ``POST /v2/music/generate``: ``suno``, ``udio`` (two songs per call), ``producer``, ``lyria-3-clip``,
    ``lyria-3-pro``, ``elevenlabs-music``, ``mureka``, each with its own block.

    :param model: One of the music models. Templated.
    :param prompt: What the music is. Templated.
    :param options: The model's block. Templated.
    """

    operation = MUSIC_GENERATION
    ui_color = "#fdf3e8"
    operator_extra_links = (ApiframeOutputLink(),)
