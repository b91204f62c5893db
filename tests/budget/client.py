"""
A process that spends part of a key's budget: ``python -m tests.budget.client sync|async COUNT``.

It sends COUNT ``GET /v2/me`` through the apiframe connection of its environment, the sync way (as a
worker's hook does) or the async way (as a trigger does). Once it has imported Airflow it prints
``ready`` and reads from stdin the epoch second to start at, so that several such processes send at
once. It prints the statuses it got, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import select
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
# Time for both processes to read the start time once both are ready.
START_MARGIN = 0.5


def run_pair(env: Mapping[str, str], each: int, timeout: float = 900.0) -> list[list[str]]:
    """A sync and an async process, each sending ``each`` requests at once; their outcomes."""
    clients = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.budget.client", mode, str(each)],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for mode in ("sync", "async")
    ]
    for client in clients:
        assert client.stdout is not None
        readable, _, _ = select.select([client.stdout], [], [], timeout)
        assert readable and client.stdout.readline().strip() == "ready", "a client did not start"
    start = time.time() + START_MARGIN
    for client in clients:
        assert client.stdin is not None
        client.stdin.write(f"{start}\n")
        client.stdin.flush()
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
    mode, count = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    time.sleep(max(0.0, start - time.time()))
    outcomes = sync_sends(count) if mode == "sync" else asyncio.run(async_sends(count))
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
