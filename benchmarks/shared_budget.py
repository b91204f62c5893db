"""
Two processes sharing one key, a worker's way (sync hook) and a triggerer's way (async transport), each
sending ``--each`` requests at once against the emulator enforcing ``--rate-limit`` a minute on the key:
each pacing itself (the default) next to one pace kept in a real redis-server (``rate_limit_redis_conn_id``).
Printed side by side: 429 answers, requests that failed, and the wall time over the bound
(total requests / limit), as ratios.

    .venvs/airflow-3.3/bin/python benchmarks/shared_budget.py --each 40 --rate-limit 60
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.budget.client import IMPORT_TIME, run_pair  # noqa: E402

KEY = "afk_benchmark_shared"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    started = time.time()
    outcomes = run_pair(env, each)
    wall = time.time() - started - IMPORT_TIME
    after = json.loads(urlopen(url + "/_emulator/stats").read())
    refused = after["responses_by_status"].get("429", 0) - before["responses_by_status"].get("429", 0)
    return {
        "429s": float(refused),
        "failed requests": float(sum(o != "ok" for out in outcomes for o in out)),
        "wall / bound": wall / (60.0 * 2 * each / limit),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--each", type=int, default=40)
    parser.add_argument("--rate-limit", type=int, default=60)
    args = parser.parse_args()
    from airflow_provider_apiframe.emulator import emulator_process

    server = shutil.which("redis-server")
    if server is None:
        sys.exit("redis-server is needed (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="apiframe-bench-redis-") as tmp:
        redis = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            time.sleep(0.5)
            results = {}
            for name, redis_url in (("Redis", f"redis://127.0.0.1:{port}"), ("each alone", None)):
                emulator = ("--api-key", KEY, "--rate-limit-per-minute", str(args.rate_limit))
                with emulator_process(*emulator) as url:
                    results[name] = measure(url, args.each, args.rate_limit, redis_url)
        finally:
            os.killpg(redis.pid, signal.SIGTERM)
            redis.wait(timeout=10)
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
