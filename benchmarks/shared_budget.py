"""
Two processes sharing one key, a worker's way (sync hook) and a triggerer's way (async transport), each
sending ``--each`` requests at once against the emulator enforcing ``--rate-limit`` a minute on the key:
each pacing itself (the default) next to one pace kept in a real redis-server (``rate_limit_redis_conn_id``).
Printed side by side: 429 answers, requests that failed, and the wall time (from the moment both start
sending, once both have imported Airflow, to the last answer) over the bound (total requests / limit),
as ratios. The processes are ``budget_processes.py``'s.

    .venvs/airflow-3.3/bin/python benchmarks/shared_budget.py --each 40 --rate-limit 60
"""

from __future__ import annotations

import argparse
import json
import os
from urllib.parse import urlencode, urlparse
from urllib.request import urlopen

from budget_processes import run_pair
from services import redis_server

from airflow_provider_apiframe.emulator import emulator_process

KEY = "afk_benchmark_shared"


def measure(url: str, each: int, limit: int, redis_url: str | None) -> dict[str, float]:
    host = urlparse(url)
    extra: dict[str, object] = {"rate_limit_per_minute": limit, "max_retries": 0}
    if redis_url:
        extra["rate_limit_redis_conn_id"] = "redis_default"
    env = dict(
        os.environ,
        AIRFLOW_CONN_APIFRAME_DEFAULT=f"apiframe://:{KEY}@{host.hostname}:{host.port}?{urlencode(extra)}",
        AIRFLOW_CONN_REDIS_DEFAULT=redis_url or "",
        AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
    )
    before = json.loads(urlopen(url + "/_emulator/stats").read())
    run = run_pair(env, each)
    after = json.loads(urlopen(url + "/_emulator/stats").read())
    refused = after["responses_by_status"].get("429", 0) - before["responses_by_status"].get("429", 0)
    return {
        "429s": float(refused),
        "failed requests": float(sum(o != "ok" for out in run.outcomes for o in out)),
        "wall / bound": (run.finished_at - run.started_at) / (60.0 * 2 * each / limit),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--each", type=int, default=40)
    parser.add_argument("--rate-limit", type=int, default=60)
    args = parser.parse_args()
    emulator = ("--api-key", KEY, "--rate-limit-per-minute", str(args.rate_limit))
    results = {}
    with redis_server() as redis_url:
        for name, shared_in in (("Redis", redis_url), ("each alone", None)):
            # A fresh emulator each: the key's budget starts full for both contenders.
            with emulator_process(*emulator) as url:
                results[name] = measure(url, args.each, args.rate_limit, shared_in)
    print(
        f"\n2 processes x {args.each} requests, one key, {args.rate_limit} a minute enforced "
        "(ratios: Redis / each alone)"
    )
    print(f"{'':18s}{'Redis':>14s}{'each alone':>14s}{'ratio':>10s}")
    for metric in results["Redis"]:
        ours, alone = results["Redis"][metric], results["each alone"][metric]
        ratio = ours / alone if alone else float("nan")
        print(f"{metric:18s}{ours:14.2f}{alone:14.2f}{ratio:10.2f}")


if __name__ == "__main__":
    main()
