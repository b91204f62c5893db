"""
The processes of a shared-budget run: a throwaway redis-server to keep a key's pace in (``redis_server``),
and two clients spending the key's budget at once (``run_pair``), one as a worker's hook sends (sync),
one as a trigger does (async). ``benchmarks/shared_budget.py`` measures with both;
``tests/wire/test_shared_budget.py`` asserts with ``run_pair``.

Each client is ``python benchmarks/budget_processes.py sync|async COUNT``: it sends COUNT
``GET /v2/me`` through the apiframe connection of its environment. Once it has imported Airflow it
prints ``ready`` and reads from stdin the epoch second to start at, so that both send at once; then it
prints, as JSON, each request's outcome and when it finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from airflow_provider_apiframe.exceptions import ApiframeError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.wire.transport import ApiRequest

ME = ApiRequest("GET", "/v2/me")
CLIENT = Path(__file__).resolve()
# Time for both processes to read the start time once both are ready.
START_MARGIN = 0.5


class PairRun(NamedTuple):
    """Both clients' outcomes (sync, then async; ``ok`` or the error's class name per request)."""

    # Epoch seconds: the start both were given once both had imported Airflow, and the later one's end.
    started_at: float
    finished_at: float
    outcomes: list[list[str]]


def run_pair(env: Mapping[str, str], each: int, timeout: float = 900.0) -> PairRun:
    """A sync and an async client process, each sending ``each`` requests at once with ``env``."""
    clients = [
        subprocess.Popen(
            [sys.executable, str(CLIENT), mode, str(each)],
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for mode in ("sync", "async")
    ]
    try:
        for client in clients:
            assert client.stdout is not None
            readable, _, _ = select.select([client.stdout], [], [], timeout)
            if not (readable and client.stdout.readline().strip() == "ready"):
                raise RuntimeError("a budget client did not start")
        start = time.time() + START_MARGIN
        for client in clients:
            assert client.stdin is not None
            client.stdin.write(f"{start}\n")
            client.stdin.flush()
        reports = [json.loads(c.communicate(timeout=timeout)[0].strip().splitlines()[-1]) for c in clients]
    finally:
        for client in clients:
            if client.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(client.pid, signal.SIGKILL)
                client.wait()
    return PairRun(start, max(r["finished_at"] for r in reports), [r["outcomes"] for r in reports])


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
    print(json.dumps({"outcomes": outcomes, "finished_at": time.time()}))


if __name__ == "__main__":
    main()
