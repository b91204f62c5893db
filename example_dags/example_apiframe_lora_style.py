"""
A style LoRA trained on a data set this DAG makes, used, then archived: four tasks, no glue code.

1. ``style_set``: twenty prompts in one batch on a cheap model (``flux-2-dev``), each a different subject
   in the same linocut style, stored as a data set (``store_to``) with its manifest. The folder is this
   run's own, so that a second run trains on its own twenty images, not on forty.
2. ``train``: a Flux LoRA trained on that data set (its folder is the ``images``), as a style
   (``subject_kind="style"``: no gender or ethnicity). It defers while it trains. The LoRA is named after
   the task instance, so a retried try finds it by that name and waits for it: it is never trained (and
   paid for) twice, even when the first try died before the API's answer reached it.
3. ``generate``: ``flux-lora`` draws a new subject in that style. Its ``loraId`` is the training task's
   output (``train.output["id"]``, which also orders the tasks), and its prompt carries the LoRA's trigger
   word, pulled by template. The image is stored in a data set of its own.
4. ``archive``: the LoRA is archived (``DELETE /v2/loras/{id}``) once the generation is done. It is the
   training's teardown: it runs when the training succeeded, whether the generation succeeded or failed,
   so a failed generation never leaves a LoRA behind, and not when the training failed (there is no LoRA
   to archive then). As a teardown it does not hide a failed generation: the run still fails, where a
   plain ``trigger_rule="all_done"`` leaf would succeed and make the run succeed with it.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_apiframe.operators.batch import ApiframeBatchGenerateOperator
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator
from airflow_provider_apiframe.operators.lora import ApiframeLoraArchiveOperator, ApiframeLoraTrainOperator

STYLE = "linocut print, bold black carved lines, two-colour red and cream, paper texture"
SUBJECTS = [
    "a lighthouse on a cliff",
    "a fox in tall grass",
    "a steam train on a viaduct",
    "a heron in reeds",
    "a mountain village at dusk",
    "a sailing boat in waves",
    "an owl on a branch",
    "a windmill in a field",
    "a cat asleep on a chair",
    "a city skyline with a bridge",
    "a stag in a forest",
    "a bicycle against a wall",
    "a whale breaching",
    "a cottage with a smoking chimney",
    "a hare running",
    "a teapot and two cups",
    "a rooster on a fence",
    "a pine forest under snow",
    "a tram in a narrow street",
    "a koi pond with lilies",
]
# This run's own folder: each run trains on the twenty images it made.
STYLE_SET = "{{ params.output_dir }}/linocut_style/{{ run_id }}"
# The trained LoRA's trigger word, rendered into a prompt when the task runs.
TRIGGER_WORD = "{{ ti.xcom_pull(task_ids='train', key='triggerWord') }}"

with DAG(
    dag_id="example_apiframe_lora_style",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "apiframe"],
    params={"output_dir": os.environ.get("APIFRAME_OUTPUT_DIR", "apiframe_images")},
) as dag:
    style_set = ApiframeBatchGenerateOperator(
        task_id="style_set",
        model="flux-2-dev",
        prompts=[
            {"id": f"linocut-{n:02d}", "prompt": f"{subject}, {STYLE}"} for n, subject in enumerate(SUBJECTS)
        ],
        image_options={"width": 512, "height": 512, "output_format": "png"},
        store_to=STYLE_SET,
        poll_interval=2.0,
    )
    train = ApiframeLoraTrainOperator(
        task_id="train",
        images=STYLE_SET,  # the data set style_set stored: its folder
        name="Linocut",
        subject_kind="style",
    )
    generate = ApiframeImageGenerateOperator(
        task_id="generate",
        model="flux-lora",
        prompt=f"a red panda in a bamboo forest, {TRIGGER_WORD} style",
        image_options={"loraId": train.output["id"], "aspect_ratio": "1:1", "output_format": "png"},
        store_to="{{ params.output_dir }}/linocut_lora",
        poll_interval=2.0,
    )
    archive = ApiframeLoraArchiveOperator(task_id="archive", lora_id=train.output["id"])

    style_set >> train
    generate >> archive.as_teardown(setups=train)
