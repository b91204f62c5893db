"""
A real Airflow for tests and benchmarks: scheduler, triggerer and, on Airflow 3, API server and DAG
processor, each its own process, so that a test can kill and restart one of them. By default on one
SQLite database with the LocalExecutor; a test may give its own components (two triggerers, Celery
workers) and database (PostgreSQL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from benchmarks.services import free_port

AIRFLOW_3 = not __import__("airflow").__version__.startswith("2.")
# Each its own process; Airflow 2 has no API server, and its scheduler parses the DAGs itself.
COMPONENTS = (
    ["api-server", "dag-processor", "scheduler", "triggerer"] if AIRFLOW_3 else ["scheduler", "triggerer"]
)


class Component:
    """One process of a cluster: its ``airflow`` arguments and what its environment sets apart."""

    def __init__(self, *args: str, **env: str) -> None:
        self.args = list(args)
        self.env = env


class AirflowCluster:
    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        extra_env: dict[str, str],
        *,
        components: Mapping[str, Component] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.home = home
        self.database_url = database_url or f"sqlite:///{home}/airflow.db"
        self.components = dict(components or {name: Component(name) for name in COMPONENTS})
        # Whatever the processes leave in temporary files (a killed task's downloads) stays in the home.
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        self.airflow = str(Path(sys.executable).parent / "airflow")
        port = free_port()
        self.env = {
            **os.environ,
            # Executors start `airflow tasks run` by name: this environment's airflow, not another.
            "PATH": f"{Path(self.airflow).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
            "TMPDIR": str(home / "tmp"),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW__SCHEDULER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "2",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API_AUTH__JWT_SECRET": "test-cluster-jwt-secret-0123456789abcdef",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor" if AIRFLOW_3 else "SequentialExecutor",
            **extra_env,
        }
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

    def start(self, name: str) -> None:
        component = self.components[name]
        args = (
            ["api-server", "--port", self.env["AIRFLOW__API__PORT"]]
            if name == "api-server"
            else component.args
        )
        log = (self.home / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [self.airflow, *args],
            env={**self.env, **component.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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
        for component in self.components:
            process = self.processes.get(component)
            if process is not None and process.poll() is not None:
                self.kill(component)  # whatever it left behind
            if component not in self.processes:
                self.start(component)

    def __exit__(self, *exc: object) -> None:
        for component in list(self.processes):
            self.kill(component)

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        """Rows of a query with ``?`` placeholders, on SQLite or PostgreSQL."""
        if self.database_url.startswith("sqlite"):
            with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
                return db.execute(sql, params).fetchall()
        import psycopg2

        dsn = self.database_url.replace("postgresql+psycopg2://", "postgresql://")
        with contextlib.closing(psycopg2.connect(dsn)) as db, db.cursor() as cursor:
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), params)
            return [tuple(row) for row in cursor.fetchall()]

    def wait_for(self, what: str, check, timeout: float = 180.0) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = check()
            except (sqlite3.OperationalError, *_postgres_errors()):
                value = None
            if value:
                return value
            time.sleep(0.5)
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.home.glob("*.log")
        )
        raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _postgres_errors() -> tuple[type[Exception], ...]:
    """A database not ready yet (tables not made): PostgreSQL's errors, where psycopg2 is installed."""
    try:
        import psycopg2
    except ImportError:
        return ()
    return (psycopg2.OperationalError, psycopg2.ProgrammingError)
