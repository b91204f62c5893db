"""
What importing the operators adds to a DAG file's parse, next to the http provider's operator.

Each sample is a fresh interpreter that first imports the Airflow SDK (which every DAG file pays anyway)
and then times one more import; the numbers are that second import's cost, as medians over interleaved
runs so that machine noise hits every candidate alike. The model catalogue is read on the first check of
a model, not on import: its cost (reading it and checking one Flux block, as an operator with literal
options does when its DAG file is parsed) is timed the same way. Run with the environment's python:

    .venvs/airflow-3.3/bin/python benchmarks/import_cost.py
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
from pathlib import Path

BASE = "airflow.providers.common.compat.sdk"
CANDIDATES = {
    "ApiframeImageGenerateOperator": "airflow_provider_apiframe.operators.generate",
    "ImagenGenerateOperator": "airflow_provider_apiframe.operators.imagen",
    "ImagenBatchGenerateOperator": "airflow_provider_apiframe.operators.batch",
    "ApiframeImageUpscaleOperator": "airflow_provider_apiframe.operators.image_edits",
    "ApiframeMidjourneyActionOperator": "airflow_provider_apiframe.operators.actions",
    "ApiframeVideoGenerateOperator": "airflow_provider_apiframe.operators.media",
    "ApiframeLoraTrainOperator": "airflow_provider_apiframe.operators.lora",
    "ApiframeJobSensor": "airflow_provider_apiframe.sensors.apiframe",
    "@task.apiframe_image": "airflow_provider_apiframe.decorators.apiframe_image",
    "HttpOperator (stock)": "airflow.providers.http.operators.http",
}
PROBE = """
import importlib, sys, time
import {base}
from {base} import BaseOperator  # resolve the lazy SDK import before the clock starts
before = set(sys.modules)
t = time.perf_counter()
importlib.import_module({module!r})
{then}
print(time.perf_counter() - t)
heavy = ("requests", "aiohttp", "airflow.providers.http.hooks")
print(",".join(m for m in heavy if m in sys.modules and m not in before))
"""


STOCK = "HttpOperator (stock)"
CATALOGUE = "first model check"
CHECK = "{module}.get_model('flux-1.1-pro').check_params({{'width': 512, 'output_format': 'jpg'}})"


def sample(module: str, then: str = "") -> tuple[float, str]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE.format(base=BASE, module=module, then=then)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return float(out[0]), out[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    # From bytecode, as an installed wheel is (pip compiles at install) and as the environment's Airflow
    # is (scripts/dev.py compiles site-packages): where PYTHONDONTWRITEBYTECODE is set, an editable
    # checkout would otherwise be compiled from source in every sample.
    import airflow_provider_apiframe

    compileall.compile_dir(Path(airflow_provider_apiframe.__file__).parent, quiet=1)
    times: dict[str, list[float]] = {name: [] for name in [*CANDIDATES, CATALOGUE]}
    heavy: dict[str, str] = {}
    models = "airflow_provider_apiframe.catalogue.model_specs"
    for _ in range(args.runs):
        for name, module in CANDIDATES.items():
            seconds, loaded = sample(module)
            times[name].append(seconds)
            heavy[name] = loaded
        # The models module alone is tiny; what this measures is the catalogue read and the first check.
        check = CHECK.format(module=f"sys.modules[{models!r}]")
        with_check, heavy[CATALOGUE] = sample(models, check)
        times[CATALOGUE].append(with_check - sample(models)[0])
    stock = statistics.median(times[STOCK])
    print(f"cost over the Airflow SDK, median of {args.runs} fresh interpreters each (ratio to {STOCK}):")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"  {name:34s} {median * 1000:7.1f} ms  {median / stock:5.2f}x"
            f"   heavy modules it loads: {heavy[name] or 'none'}"
        )


if __name__ == "__main__":
    main()
