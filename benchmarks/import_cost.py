"""
What importing the operator adds to a DAG file's parse, next to the http provider's operator.

Each sample is a fresh interpreter that first imports the Airflow SDK (which every DAG file pays anyway)
and then times one more import; the numbers are that second import's cost, as medians over interleaved
runs so that machine noise hits every candidate alike. Run with the environment's python:

    .venvs/airflow-3.3/bin/python benchmarks/import_cost.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

BASE = "airflow.providers.common.compat.sdk"
CANDIDATES = {
    "ImagenGenerateOperator": "airflow_provider_apiframe.operators.imagen",
    "ImagenBatchGenerateOperator": "airflow_provider_apiframe.operators.batch",
    "HttpOperator (stock)": "airflow.providers.http.operators.http",
}
PROBE = """
import importlib, sys, time
import {base}
from {base} import BaseOperator  # resolve the lazy SDK import before the clock starts
before = set(sys.modules)
t = time.perf_counter()
importlib.import_module({module!r})
print(time.perf_counter() - t)
heavy = ("requests", "aiohttp", "airflow.providers.http.hooks")
print(",".join(m for m in heavy if m in sys.modules and m not in before))
"""


def sample(module: str) -> tuple[float, str]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE.format(base=BASE, module=module)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return float(out[0]), out[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    heavy: dict[str, str] = {}
    for _ in range(args.runs):
        for name, module in CANDIDATES.items():
            seconds, loaded = sample(module)
            times[name].append(seconds)
            heavy[name] = loaded
    ours, stock = (statistics.median(times[name]) for name in CANDIDATES)
    print(f"import cost over the Airflow SDK, median of {args.runs} fresh interpreters each:")
    for name in CANDIDATES:
        median = statistics.median(times[name])
        print(f"  {name:26s} {median * 1000:7.1f} ms   heavy modules it loads: {heavy[name] or 'none'}")
    print(f"  ratio ours / stock: {ours / stock:.2f}")


if __name__ == "__main__":
    main()
