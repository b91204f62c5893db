"""
What the browser tests share: throwaway Airflow homes, the emulator and Airflow's servers, each process in a
process group of its own and stopped with all its children, and where screenshots go.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

AIRFLOW_VERSION = Version(version("apache-airflow"))
# The React UI these tests drive is Airflow 3.3's; the browser extra is installed with Airflow 3 only.
BEFORE_3_3 = pytest.mark.skipif(
    AIRFLOW_VERSION.release < (3, 3),
    reason=f"drives Airflow 3.3's React UI; Airflow {AIRFLOW_VERSION}'s Flask UI has other pages",
)
ROOT = Path(__file__).resolve().parents[3]
AIRFLOW = Path(sys.executable).parent / "airflow"
CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 40


def artifacts() -> Path:
    folder = Path(os.environ.get("APIFRAME_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "ui")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def tail(log: Path, secret: str) -> str:
    """The log's last lines, with ``secret`` (a test's API key) masked."""
    lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if log.exists() else []
    return "\n".join(lines).replace(secret, "***")


class ProcessGroups:
    """Servers started each in a process group of its own, stopped with all their children."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[Any]] = []

    def start(self, args: list[str], env: dict[str, str], log: Path, **kwargs: Any) -> subprocess.Popen[Any]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                args, env=env, stdout=kwargs.pop("stdout", out), stderr=out, start_new_session=True, **kwargs
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            self._signal(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Whatever the leader left behind (the API server's workers) goes too.
            self._signal(process, signal.SIGKILL)
            process.wait()
            if process.stdout is not None:
                process.stdout.close()

    @staticmethod
    def _signal(process: subprocess.Popen[Any], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)


def airflow_env(home: Path, dags_folder: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any Airflow setting or connection, then a throwaway home's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # Every request is an admin's (unless ``extra`` says otherwise): no login page in the way.
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
    )
    env.update(extra)
    return env


def run_airflow(env: dict[str, str], log: Path, *args: str, secret: str) -> None:
    with log.open("ab") as out:
        done = subprocess.run([str(AIRFLOW), *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        pytest.fail(f"airflow {' '.join(args)} failed:\n{tail(log, secret)}")


def wait_until_up(url: str, process: subprocess.Popen[Any], log: Path, secret: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{url} did not come up:\n{tail(log, secret)}")
            time.sleep(0.3)


def start_emulator(servers: ProcessGroups, env: dict[str, str], log: Path, key: str) -> str:
    """Start the emulator on a free port, knowing ``key``, with 1 s jobs; return its URL once it listens."""
    emulator = servers.start(
        [sys.executable, "-m", "airflow_provider_apiframe.emulator", "--port", "0", "--api-key", key,
         "--job-duration", "1"],
        env, log, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert emulator.stdout is not None
    ready, _, _ = select.select([emulator.stdout], [], [], START_TIMEOUT)
    line = emulator.stdout.readline() if ready else ""
    assert line.startswith("apiframe emulator listening on "), f"the emulator did not start: {line!r}"
    return line.rsplit(" ", 1)[1].strip()


def start_api_server(
    servers: ProcessGroups, env: dict[str, str], port: int, log: Path
) -> subprocess.Popen[Any]:
    return servers.start(
        [str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], env, log
    )


def rest_api(
    base: str, method: str, path: str, body: dict[str, Any] | None = None, *, token: str | None = None
) -> Any:
    """Airflow's REST API, as ``token``'s user (without one, the all-admins setting's admin)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as err:
        raise AssertionError(f"{method} {path}: HTTP {err.code} {err.read()[:500]!r}") from None
