"""
A real Airflow for tests and benchmarks: scheduler, triggerer and, on Airflow 3, API server and DAG
processor, each its own process on one SQLite database, so that a test can kill and restart one of them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

AIRFLOW_3 = not __import__("airflow").__version__.startswith("2.")
# Each its own process; Airflow 2 has no API server, and its scheduler parses the DAGs itself.
COMPONENTS = (
    ["api-server", "dag-processor", "scheduler", "triggerer"] if AIRFLOW_3 else ["scheduler", "triggerer"]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AirflowCluster:
    def __init__(self, home: Path, dags_folder: Path, extra_env: dict[str, str]) -> None:
        self.home = home
        self.airflow = str(Path(sys.executable).parent / "airflow")
        port = free_port()
        self.env = dict(
            os.environ,
            # Executors start `airflow tasks run` by name: this environment's airflow, not another.
            PATH=f"{Path(self.airflow).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
            AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC="1",
            AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="1",
            AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="5",
            AIRFLOW__SCHEDULER__TRIGGERER_HEALTH_CHECK_THRESHOLD="5",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="2",
            AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL="2",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
            AIRFLOW__API__PORT=str(port),
            AIRFLOW__API_AUTH__JWT_SECRET="test-cluster-jwt-secret-0123456789abcdef",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor" if AIRFLOW_3 else "SequentialExecutor",
            **extra_env,
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [self.airflow, *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode:
            raise RuntimeError(
                f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def start(self, component: str) -> None:
        args = {"api-server": ["api-server", "--port", self.env["AIRFLOW__API__PORT"]]}.get(
            component, [component]
        )
        log = (self.home / f"{component}.log").open("ab")
        self.processes[component] = subprocess.Popen(
            [self.airflow, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, component: str) -> None:
        import psutil

        process = self.processes.pop(component)
        # Airflow 2's scheduler starts its DAG file processor manager in a process group of its own,
        # which killing the scheduler's group would miss: take every descendant, wherever it lives.
        try:
            descendants = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        with contextlib.suppress(ProcessLookupError):  # a group already gone
            os.killpg(process.pid, signal.SIGKILL)
        for child in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        process.wait(timeout=30)
        psutil.wait_procs(descendants, timeout=30)

    def __enter__(self) -> AirflowCluster:
        self.cli("db", "migrate")
        self.start_stopped()
        return self

    def start_stopped(self) -> None:
        """Start every component that is not running (all of them, the first time)."""
        for component in COMPONENTS:
            process = self.processes.get(component)
            if process is not None and process.poll() is not None:
                self.kill(component)  # whatever it left behind
            if component not in self.processes:
                self.start(component)

    def __exit__(self, *exc: object) -> None:
        for component in list(self.processes):
            self.kill(component)

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def wait_for(self, what: str, check, timeout: float = 180.0) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = check()
            except sqlite3.OperationalError:
                value = None
            if value:
                return value
            time.sleep(0.5)
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.home.glob("*.log")
        )
        raise AssertionError(f"timed out waiting for {what}\n{logs}")
