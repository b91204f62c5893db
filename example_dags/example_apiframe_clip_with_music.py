"""
A product clip with its own music: an image, a hat painted onto it, the image set in motion, upscaled,
and a song written for it, extended.

Every operation family in one DAG: image generation and edit (its mask is a file this DAG draws, uploaded
by the operator), video generation from the image and video upscale, music generation from a prompt a
Python task writes, and a Suno action on the song. Outputs pass from task to task as lists of URLs; the
upscaled clip and the extended song are kept in a data set (the CDN purges every file after 24 hours).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.actions import ApiframeSunoActionOperator
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.image_edits import ApiframeImageEditOperator
from airflow_provider_apiframe.operators.media import (
    ApiframeMusicGenerateOperator,
    ApiframeVideoGenerateOperator,
    ApiframeVideoUpscaleOperator,
)

SUBJECT = "a ceramic teapot on a linen tablecloth"

with DAG(
    dag_id="example_apiframe_clip_with_music",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:
    shot = ApiframeImageGenerateOperator(
        task_id="shot",
        model="flux-1.1-pro",
        prompt=f"{SUBJECT}, soft window light",
        image_options={"width": 768, "height": 768, "output_format": "png"},
        poll_interval=2.0,
    )

    @task
    def draw_mask(output_dir: str) -> str:
        """A mask over the top of the picture, where the hat goes: white is painted, black kept."""
        from PIL import Image, ImageDraw

        os.makedirs(os.path.join(output_dir, "masks"), exist_ok=True)
        path = os.path.join(output_dir, "masks", "hat.png")
        mask = Image.new("L", (768, 768), 0)
        ImageDraw.Draw(mask).ellipse((234, 40, 534, 300), fill=255)
        mask.save(path)
        return path

    hat = ApiframeImageEditOperator(
        task_id="paint_hat",
        model="flux-fill-pro",
        options={
            "image": shot.output,
            "mask": draw_mask("{{ params.output_dir }}"),
            "prompt": "a small red felt hat",
            "mode": "inpaint",
            "output_format": "png",
        },
        poll_interval=2.0,
    )
    clip = ApiframeVideoGenerateOperator(
        task_id="clip",
        model="kling-2.6",
        prompt=f"{SUBJECT} wearing a red hat turns slowly",
        options={"start_image": hat.output, "aspect_ratio": "9:16", "duration": 5},
        poll_interval=2.0,
        timeout=1800,
    )
    upscaled = ApiframeVideoUpscaleOperator(
        task_id="upscale_clip",
        model="topaz-video-upscale",
        options={"video": clip.output, "target_resolution": "1080p", "target_fps": 30},
        store_to="{{ params.output_dir }}/clip",
        poll_interval=2.0,
        timeout=1800,
    )

    @task
    def music_prompt(subject: str) -> str:
        """The song's brief, written from the clip's subject."""
        return f"A light, warm acoustic tune for a short clip of {subject}, 90 bpm"

    song = ApiframeMusicGenerateOperator(
        task_id="song",
        model="suno",
        prompt=music_prompt(SUBJECT),
        options={"title": "Teapot", "instrumental": True},
        poll_interval=2.0,
    )
    extended = ApiframeSunoActionOperator(
        task_id="extend_song",
        action="extend",
        index=1,
        parent_job_id="{{ ti.xcom_pull(task_ids='song', key='job_id') }}",
        store_to="{{ params.output_dir }}/clip",
        poll_interval=2.0,
    )
    song >> extended

    @task
    def spend(ti: Any = None) -> dict[str, int]:
        """What the run spent, task by task and in all: each apiframe task's ``credit_cost`` XCom."""
        from airflow_provider_apiframe.spending.report import run_credits

        return run_credits(ti, ["shot", "paint_hat", "clip", "upscale_clip", "song", "extend_song"])

    [upscaled, extended] >> spend()
