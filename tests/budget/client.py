"""
A process that spends part of a key's budget: ``python -m tests.budget.client sync|async COUNT START``.

It sends COUNT ``GET /v2/me`` through the apiframe connection of its environment, the sync way (as a
worker's hook does) or the async way (as a trigger does), starting at epoch second START so that
several such processes send at once. It prints the statuses it got, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from airflow_provider_apiframe.exceptions import ApiframeError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.transport import ApiRequest

ME = ApiRequest("GET", "/v2/me")
ROOT = Path(__file__).resolve().parents[2]
# Both processes have imported Airflow by then, so that they start sending together.
IMPORT_TIME = 8.0


def run_pair(env: Mapping[str, str], each: int, timeout: float = 900.0) -> list[list[str]]:
    """A sync and an async process, each sending ``each`` requests at once; their outcomes."""
    start = time.time() + IMPORT_TIME
    clients = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.budget.client", mode, str(each), str(start)],
            cwd=ROOT,
            env=dict(env),
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for mode in ("sync", "async")
    ]
    return [json.loads(c.communicate(timeout=timeout)[0].strip().splitlines()[-1]) for c in clients]


def sync_sends(count: int) -> list[str]:
    transport = ApiframeHook().transport
    outcomes = []
    for _ in range(count):
        try:
            transport.send(ME)
            outcomes.append("ok")
        except ApiframeError as error:
            outcomes.append(type(error).__name__)
    return outcomes


async def async_sends(count: int) -> list[str]:
    outcomes = []
    async with ApiframeHook().async_client() as client:
        for _ in range(count):
            try:
                await client.transport.send(ME)
                outcomes.append("ok")
            except ApiframeError as error:
                outcomes.append(type(error).__name__)
    return outcomes


def main() -> None:
    mode, count, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    outcomes = sync_sends(count) if mode == "sync" else asyncio.run(async_sends(count))
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
