"""
The same prompts drawn by three model families side by side: Flux, Ideogram (good at lettering) and Imagen.

``ApiframeImageGenerateOperator`` takes any model of the catalogue and its own options, checked before
anything is spent; each model is one mapped task over the prompts, and every image lands in a folder
named after its model, ready to be compared.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator

PROMPTS = [
    "A poster that reads 'OPEN AIR CINEMA' over a summer night sky",
    "A ceramic teapot on a linen tablecloth, soft window light",
]
# Each model with options of its own block: fluxParams, ideogramParams, imagenParams.
MODELS = {
    "flux-1.1-pro": {"width": 1024, "height": 768, "output_format": "png"},
    "ideogram-v3-turbo": {"aspect_ratio": "4:3", "magic_prompt_option": "Off"},
    "imagen-4": {"aspect_ratio": "4:3", "output_format": "png"},
}

with DAG(
    dag_id="example_apiframe_models",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:

    @task
    def save_images(url_lists: list[list[str]], output_dir: str, model: str) -> list[str]:
        from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

        # One slice fetches every mapped result; a plain loop asks item by item, and Airflow 3 logs an
        # error for the item past the end.
        urls = [url for urls in url_lists[:] for url in urls]
        return ApiframeHook().download_images(urls, os.path.join(output_dir, model))

    for model, options in MODELS.items():
        generate = ApiframeImageGenerateOperator.partial(
            task_id=f"generate_{model.replace('-', '_').replace('.', '_')}",
            model=model,
            image_options=options,
            poll_interval=2.0,
        ).expand(prompt=PROMPTS)
        save_images.override(task_id=f"save_{model.replace('-', '_').replace('.', '_')}")(
            generate.output, "{{ params.output_dir }}", model
        )
