"""
DAGs for tests/integration/dags/test_process_deaths.py: a triggerer or a worker dies while jobs run, or
while a LoRA's creation is answered.

The tests share one Airflow; each DAG reaches its own emulator through a connection named after it.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator
from airflow_provider_apiframe.operators.lora import ApiframeLoraTrainOperator

with DAG(dag_id="apiframe_restart", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    generate = ImagenGenerateOperator(
        task_id="generate",
        prompt="koi through a restart",
        poll_interval=1.0,
        apiframe_conn_id="apiframe_restart",
    )

    @task
    def record(urls: list[str]) -> None:
        with open(os.environ["APIFRAME_RESTART_RESULT"], "w") as handle:
            json.dump(urls, handle)

    record(generate.output)


class KilledOnFirstTry(ImagenGenerateOperator):
    """The first try's process is killed outright (SIGKILL) while it waits for the job it submitted."""

    def poll_until_complete(self, external_id: object, context: object) -> list[str]:
        if context["ti"].try_number == 1:  # type: ignore[index]
            os.kill(os.getpid(), signal.SIGKILL)
        return super().poll_until_complete(external_id, context)  # type: ignore[arg-type]


with DAG(dag_id="apiframe_worker_killed", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    KilledOnFirstTry(
        task_id="generate",
        prompt="koi through a killed worker",
        apiframe_conn_id="apiframe_worker_killed",
        deferrable=False,
        poll_interval=1.0,
        retries=1,
        retry_delay=timedelta(seconds=0),
    )


BATCH_ROWS = [f"koi number {i} through a restart" for i in range(12)]


class BatchKilledOnFirstTry(ImagenBatchGenerateOperator):
    """The first try's process is killed outright (SIGKILL) once every row has a job, before it waits."""

    def _wait(self, context: Any, *args: Any, **kwargs: Any) -> Any:
        if context["ti"].try_number == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return super()._wait(context, *args, **kwargs)


with DAG(dag_id="apiframe_batch_deaths", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    BatchKilledOnFirstTry(
        task_id="generate",
        prompts=BATCH_ROWS,
        apiframe_conn_id="apiframe_batch_deaths",
        poll_interval=1.0,
        retries=1,
        retry_delay=timedelta(seconds=0),
    )


# The test draws the training images in this folder before Airflow starts.
LORA_IMAGES = os.environ.get("APIFRAME_LORA_IMAGES", "")

with DAG(dag_id="apiframe_lora_lost_answer", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    # No hook of the test's in here: the test kills the task's process from outside while the API holds
    # the answer to the POST that created the LoRA, and the retry has only the LoRA's name to go by.
    ApiframeLoraTrainOperator(
        task_id="train",
        images=[f"{LORA_IMAGES}/style-{number:02d}.png" for number in range(15)],
        name="Lost answer",
        subject_kind="style",
        apiframe_conn_id="apiframe_lora_lost_answer",
        poll_interval=1.0,
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
