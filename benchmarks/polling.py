"""
Waiting for jobs: our trigger next to the stock way, against the emulator, in one run.

- ours: ``ApiframeJobTrigger.run()`` as the triggerer runs it (one HTTP session per trigger, polls timed
  from the job's progress, ``poll_interval`` 5 s).
- stock: the http provider's ``HttpAsyncHook`` (a new session per request, as its trigger and sensor
  use it) on the vendor SDK's ``waitFor`` schedule (2 s, x1.5 per poll, 5 s cap).

Both wait for the same number of concurrent jobs of the same duration on an emulator in its own
process, so the client's CPU time is the client's alone. Printed: polls per job, detection delay (the
time from the job's completedAt to the waiter seeing it), client CPU, and ours/stock ratios.

    .venvs/airflow-3.3/bin/python benchmarks/polling.py --jobs 20 --duration 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import datetime
from urllib.parse import urlparse
from urllib.request import Request, urlopen

from airflow_provider_apiframe.emulator import emulator_process

KEY = "afk_benchmark_emulator_key"


def call(url: str, path: str, body: dict | None = None) -> dict:
    request = Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
    )
    with urlopen(request) as response:
        return json.loads(response.read())


def completed_at(url: str, job_id: str) -> float:
    stamp = call(url, f"/v2/jobs/{job_id}")["completedAt"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def ours(job_id: str, submitted_at: float) -> float:
    from airflow_provider_apiframe.triggers.apiframe import ApiframeJobTrigger

    trigger = ApiframeJobTrigger(job_id, "apiframe_default", 5.0, submitted_at + 600, submitted_at)
    async for event in trigger.run():
        assert event.payload["status"] == "success", event.payload
        return time.time()
    raise AssertionError("no event")


async def stock(job_id: str, submitted_at: float) -> float:
    from airflow.providers.http.hooks.http import HttpAsyncHook

    delay = 2.0
    while True:
        await asyncio.sleep(delay)
        async with HttpAsyncHook(method="GET", http_conn_id="apiframe_http").session() as http:
            response = await http.run(endpoint=f"/v2/jobs/{job_id}")
            job = await response.json()
        if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return time.time()
        delay = min(delay * 1.5, 5.0)


async def wait_all(waiter, job_ids: list[str], submitted_at: float) -> list[float]:
    return list(await asyncio.gather(*(waiter(job_id, submitted_at) for job_id in job_ids)))


def run(name: str, waiter, url: str, jobs: int) -> dict[str, float]:
    submitted_at = time.time()
    job_ids = [
        call(url, "/v2/images/generate", {"prompt": f"{name} {i}", "model": "imagen-4"})["jobId"]
        for i in range(jobs)
    ]
    polls_before = call(url, "/_emulator/stats")["polls"]
    cpu = time.process_time()
    seen = asyncio.run(wait_all(waiter, job_ids, submitted_at))
    cpu = time.process_time() - cpu
    polls = call(url, "/_emulator/stats")["polls"] - polls_before
    delays = [s - completed_at(url, j) for s, j in zip(seen, job_ids, strict=True)]
    return {
        "polls/job": polls / jobs,
        "mean delay s": statistics.mean(delays),
        "max delay s": max(delays),
        "client CPU ms/job": cpu * 1000 / jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    with emulator_process(
        "--api-key", KEY, "--job-duration", str(args.duration), "--credits", "1000000"
    ) as url:
        results = measure(url, args.jobs)
    print(f"{args.jobs} concurrent jobs of {args.duration:.0f} s each, emulator over loopback")
    print(f"{'':20s}{'ours':>10s}{'stock':>10s}{'ours/stock':>12s}")
    for metric in results["ours"]:
        a, b = results["ours"][metric], results["stock"][metric]
        print(f"{metric:20s}{a:10.2f}{b:10.2f}{a / b if b else float('nan'):12.2f}")


def measure(url: str, jobs: int) -> dict[str, dict[str, float]]:
    host = urlparse(url)
    os.environ["AIRFLOW_CONN_APIFRAME_DEFAULT"] = f"apiframe://:{KEY}@{host.hostname}:{host.port}"
    os.environ["AIRFLOW_CONN_APIFRAME_HTTP"] = json.dumps(
        {"conn_type": "http", "host": host.hostname, "port": host.port, "extra": {"X-API-Key": KEY}}
    )
    # Imports are a one-off per process (see import_cost.py), not a cost per job: pay them up front.
    import airflow.providers.http.hooks.http  # noqa: F401

    import airflow_provider_apiframe.triggers.apiframe  # noqa: F401

    return {"ours": run("ours", ours, url, jobs), "stock": run("stock", stock, url, jobs)}


if __name__ == "__main__":
    main()
