"""DAG files import the operator modules on every parse: they must stay light (see benchmarks/import_cost)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "requests",
    "aiohttp",
    "airflow.providers.http.hooks.http",
    "redis",
    "datasets",
    "PIL",
    "jsonschema_specifications",
    "airflow_provider_apiframe.storage.image_store",
    "airflow_provider_apiframe.hooks.apiframe",
)
PROBE = """
import sys
import airflow.providers.common.compat.sdk
from airflow.providers.common.compat.sdk import BaseOperator
before = set(sys.modules)
import airflow_provider_apiframe.operators.imagen, airflow_provider_apiframe.operators.batch
import airflow_provider_apiframe.operators.generate, airflow_provider_apiframe.sensors.apiframe
import airflow_provider_apiframe.decorators.apiframe_image, airflow_provider_apiframe.operators.store
import airflow_provider_apiframe.operators.image_edits, airflow_provider_apiframe.operators.actions
import airflow_provider_apiframe.operators.media, airflow_provider_apiframe.operators.lora
print("heavy:" + ",".join(sorted(m for m in {heavy!r} if m in sys.modules and m not in before)))
"""


def test_the_operator_modules_load_no_http_client():
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    [loaded] = [line for line in done.stdout.splitlines() if line.startswith("heavy:")]
    assert loaded == "heavy:"
