"""
Waiting for jobs: our trigger next to the stock way, against the emulator, in one run.

- ours: ``ApiframeJobTrigger.run()`` as the triggerer runs it (one HTTP session per trigger, polls timed
  from the job's progress, ``poll_interval`` 5 s).
- stock: the http provider's ``HttpAsyncHook`` (a new session per request, as its trigger and sensor
  use it) on the vendor SDK's ``waitFor`` schedule (2 s, x1.5 per poll, 5 s cap).

Both wait for the same number of concurrent jobs of the same duration on an emulator in its own
process, so the client's CPU time is the client's alone. Printed: polls per job, detection delay (the
time from the job's completedAt to the waiter seeing it), client CPU, 429 answers per job, and
ours/stock ratios. With ``--rate-limit`` the emulator enforces a per-key budget, as the API does, and
ours paces itself to it (the connection's ``rate_limit_per_minute``).

    .venvs/airflow-3.3/bin/python benchmarks/polling.py --jobs 20 --duration 8
    .venvs/airflow-3.3/bin/python benchmarks/polling.py --jobs 150 --duration 8 --rate-limit 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import datetime
from urllib.error import HTTPError
from urllib.parse import urlparse
from urllib.request import Request, urlopen

from airflow_provider_apiframe.emulator import emulator_process

KEY = "afk_benchmark_emulator_key"
# The benchmark's own submits and look-ups use another key of the same team, so that they take nothing
# from the waiters' rate budget (the emulator, like the API, counts per key).
BOOKKEEPING_KEY = "afk_benchmark_bookkeeping"
# The numbers are the output: Airflow's per-request log lines (it logs to stdout) would bury them.
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")


def call(url: str, path: str, body: dict | None = None) -> dict:
    """The benchmark's own bookkeeping requests, which wait out any 429 and are not measured."""
    while True:
        try:
            return _call(url, path, body)
        except HTTPError as err:
            if err.code != 429:
                raise
            time.sleep(float(err.headers.get("Retry-After", "1")))


def _call(url: str, path: str, body: dict | None = None) -> dict:
    request = Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-API-Key": BOOKKEEPING_KEY, "Content-Type": "application/json"},
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
    from aiohttp import ClientResponseError
    from airflow.providers.http.hooks.http import HttpAsyncHook

    delay = 2.0
    while True:
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 5.0)
        try:
            async with HttpAsyncHook(method="GET", http_conn_id="apiframe_http").session() as http:
                response = await http.run(endpoint=f"/v2/jobs/{job_id}")
                job = await response.json()
        except ClientResponseError:  # a 429 after the hook's own retries: poke again later, as a sensor does
            continue
        if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return time.time()


async def wait_all(waiter, job_ids: list[str], submitted_at: float) -> list[float]:
    return list(await asyncio.gather(*(waiter(job_id, submitted_at) for job_id in job_ids)))


def run(name: str, waiter, url: str, jobs: int) -> dict[str, float]:
    submitted_at = time.time()
    job_ids = [
        call(url, "/v2/images/generate", {"prompt": f"{name} {i}", "model": "imagen-4"})["jobId"]
        for i in range(jobs)
    ]
    before = call(url, "/_emulator/stats")
    cpu = time.process_time()
    seen = asyncio.run(wait_all(waiter, job_ids, submitted_at))
    cpu = time.process_time() - cpu
    after = call(url, "/_emulator/stats")
    polls = after["polls"] - before["polls"]
    refused = after["responses_by_status"].get("429", 0) - before["responses_by_status"].get("429", 0)
    delays = [s - completed_at(url, j) for s, j in zip(seen, job_ids, strict=True)]
    return {
        "polls/job": polls / jobs,
        "mean delay s": statistics.mean(delays),
        "max delay s": max(delays),
        "client CPU ms/job": cpu * 1000 / jobs,
        "429s/job": refused / jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rate-limit", type=int, default=0, help="the emulator's requests/min per key")
    args = parser.parse_args()
    limit = ["--rate-limit-per-minute", str(args.rate_limit)] if args.rate_limit else []
    with emulator_process(
        "--api-key",
        KEY,
        "--api-key",
        BOOKKEEPING_KEY,
        "--job-duration",
        str(args.duration),
        "--credits",
        "1000000",
        *limit,
    ) as url:
        results = measure(url, args.jobs, args.rate_limit)
    print(
        f"{args.jobs} concurrent jobs of {args.duration:.0f} s each, emulator over loopback, "
        f"rate limit {args.rate_limit or 'off'}"
    )
    print(f"{'':20s}{'ours':>10s}{'stock':>10s}{'ours/stock':>12s}")
    for metric in results["ours"]:
        a, b = results["ours"][metric], results["stock"][metric]
        print(f"{metric:20s}{a:10.2f}{b:10.2f}{a / b if b else float('nan'):12.2f}")


def measure(url: str, jobs: int, rate_limit: int) -> dict[str, dict[str, float]]:
    host = urlparse(url)
    os.environ["AIRFLOW_CONN_APIFRAME_DEFAULT"] = (
        f"apiframe://:{KEY}@{host.hostname}:{host.port}?rate_limit_per_minute={rate_limit or 500}"
    )
    os.environ["AIRFLOW_CONN_APIFRAME_HTTP"] = json.dumps(
        {"conn_type": "http", "host": host.hostname, "port": host.port, "extra": {"X-API-Key": KEY}}
    )
    # Imports are a one-off per process (see import_cost.py), not a cost per job: pay them up front.
    import airflow.providers.http.hooks.http  # noqa: F401

    import airflow_provider_apiframe.triggers.apiframe  # noqa: F401

    results = {"ours": run("ours", ours, url, jobs)}
    if rate_limit:
        time.sleep(60)  # a fresh window for the second contender
    results["stock"] = run("stock", stock, url, jobs)
    return results


if __name__ == "__main__":
    main()
