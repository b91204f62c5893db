"""
The three ways to generate one data set that ``benchmarks/batch.py`` compares, on one list of prompts:
our batch operator, one mapped ``ImagenGenerateOperator`` instance per prompt, and the stock way (a mapped
``HttpOperator`` submit and a mapped ``HttpSensor`` wait per prompt). Each contender uses a connection
of its own (its own key), set by the benchmark; the row count comes from ``APIFRAME_BENCH_ROWS``.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG
from airflow.providers.http.operators.http import HttpOperator
from airflow.providers.http.sensors.http import HttpSensor

from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

ROWS = int(os.environ.get("APIFRAME_BENCH_ROWS", "100"))
PROMPTS = [f"Field-guide plate number {i} of a North Sea bird" for i in range(ROWS)]
TIMINGS = os.environ.get("APIFRAME_BENCH_TIMINGS", "/tmp/apiframe-bench-timings.jsonl")


class TimedBatch(ImagenBatchGenerateOperator):
    """Records how long each of its worker-side steps runs, to tell operator time from Airflow's own."""

    def _timed(self, step: str, call: Any) -> Any:
        started = time.monotonic()
        try:
            return call()
        finally:
            with Path(TIMINGS).open("a") as handle:
                handle.write(json.dumps({"step": step, "seconds": time.monotonic() - started}) + "\n")

    def execute(self, context: Any) -> Any:
        return self._timed("execute", lambda: super(TimedBatch, self).execute(context))

    def after_submit(self, context: Any, event: Any) -> Any:
        return self._timed("after_submit", lambda: super(TimedBatch, self).after_submit(context, event))

    def after_wait(self, context: Any, event: Any) -> Any:
        return self._timed("after_wait", lambda: super(TimedBatch, self).after_wait(context, event))


def bench_dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, start_date=datetime(2026, 1, 1), schedule=None, catchup=False)


# One retry, as a deployment would set: Airflow 3.3 can fail a task whose trigger fires before the
# scheduler has seen the deferring process exit (apache/airflow#66374), which short jobs on a loaded
# machine meet now and then. The retry pays nothing again: the jobs are the task's own by their keys.
OURS = {"retries": 1, "retry_delay": timedelta(seconds=2)}

with bench_dag("bench_batch"):
    TimedBatch(
        task_id="generate", prompts=PROMPTS, apiframe_conn_id="apiframe_batch", poll_interval=5.0, **OURS
    )

with bench_dag("bench_mapped"):
    ImagenGenerateOperator.partial(task_id="generate", apiframe_conn_id="apiframe_mapped", **OURS).expand(
        prompt=PROMPTS
    )

with bench_dag("bench_stock"):
    # What a user of the http provider writes: submit, then a sensor on the job's status, a retry or
    # two for the 429s a burst of submits meets.
    submit = HttpOperator.partial(
        task_id="submit",
        http_conn_id="apiframe_http",
        endpoint="/v2/images/generate",
        method="POST",
        headers={"Content-Type": "application/json"},
        response_filter=lambda response: response.json()["jobId"],
        retries=5,
        retry_delay=timedelta(seconds=30),
    ).expand(data=[json.dumps({"prompt": prompt, "model": "imagen-4"}) for prompt in PROMPTS])
    HttpSensor.partial(
        task_id="wait",
        http_conn_id="apiframe_http",
        response_check=lambda response: response.json()["status"] == "COMPLETED",
        poke_interval=5,
        retries=5,
        retry_delay=timedelta(seconds=30),
    ).expand(endpoint=submit.output.map(lambda job_id: f"/v2/jobs/{job_id}"))
