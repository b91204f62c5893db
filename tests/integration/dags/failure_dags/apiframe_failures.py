"""DAGs that meet the API's failures, run by tests/integration/dags/test_failure_behaviour.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator

DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False}
RETRY_AT_ONCE: dict[str, Any] = {"retries": 1, "retry_delay": timedelta(seconds=0)}


class CrashOnFirstTry(ImagenGenerateOperator):
    """Stands for a worker that dies after the job was submitted: the first try fails after deferring."""

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> list[str]:
        if context["ti"].try_number == 1:
            raise RuntimeError("simulated crash after the job was submitted")
        return super().execute_complete(context, event)


@task
def check(urls: list[str]) -> int:
    assert urls and all(url.startswith("http") for url in urls), urls
    return len(urls)


with DAG(dag_id="apiframe_flaky", **DEFAULTS):
    check(ImagenGenerateOperator(task_id="generate", prompt="koi", poll_interval=0.5).output)

with DAG(dag_id="apiframe_permanent", **DEFAULTS):
    ImagenGenerateOperator(task_id="generate", prompt="koi", retries=2, retry_delay=timedelta(seconds=0))
    ImagenGenerateOperator(
        task_id="misspelled",
        prompt="koi",
        apiframe_conn_id="apiframe_defualt",
        retries=2,
        retry_delay=timedelta(seconds=0),
    )

with DAG(dag_id="apiframe_job_failures", **DEFAULTS):
    ImagenGenerateOperator(task_id="failed", prompt="koi [fail]", poll_interval=0.5, **RETRY_AT_ONCE)
    ImagenGenerateOperator(task_id="cancelled", prompt="koi [cancel]", poll_interval=0.5)
    ImagenGenerateOperator(task_id="never", prompt="koi [never]", poll_interval=0.5, timeout=3)

with DAG(dag_id="apiframe_crash_after_submit", **DEFAULTS):
    check(CrashOnFirstTry(task_id="generate", prompt="koi", poll_interval=0.5, **RETRY_AT_ONCE).output)

with DAG(dag_id="apiframe_storm", **DEFAULTS):
    # Airflow's default of no task retries: the client alone must ride out the storm.
    check.expand(
        urls=ImagenGenerateOperator.partial(task_id="generate", poll_interval=0.5)
        .expand(prompt=["koi", "heron", "lotus"])
        .output
    )
