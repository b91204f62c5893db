"""
Airflow 3 as our users run it at scale, for the topology test and benchmark: PostgreSQL for the metadata
database, Redis as the Celery broker and the key's shared request budget, Celery workers, two
triggerers, a scheduler, a DAG processor and the API server, each a real process in its own group.

Each process names itself (``[core] hostname_callable``) after its component (``triggerer-a``,
``worker-b``, ...), so that the metadata database says which triggerer runs a trigger and which
worker a task, and the test can kill exactly that one.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import psutil

from benchmarks.airflow_cluster import AirflowCluster, Component
from benchmarks.services import PostgresServer, RedisServer
from benchmarks.statsd_listener import StatsdListener

ROOT = Path(__file__).resolve().parent.parent
# The emulator's limit per key and the connection's budget: a tenth of the API's 500 a minute would make
# a CI run last minutes; the ratios hold at any rate.
TOPOLOGY_RATE_LIMIT = 240
TRIGGERERS = ("triggerer-a", "triggerer-b")
WORKERS = ("worker-a", "worker-b")
XCOM_OBJECT_STORAGE = "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"
TOPOLOGY_DAGS = ("apiframe_topology_batch", "apiframe_topology_mapped")


def component_name() -> str:
    """The ``hostname_callable`` of every process of a topology: its component's name."""
    return os.environ.get("APIFRAME_COMPONENT") or socket.gethostname()


class Topology:
    """
    The whole cluster, started on enter (database migrated, DAGs parsed) and stopped on exit.

    :param folder: Where the Airflow home, the XCom objects and the logs go.
    :param dags_folder: The DAGs; they read ``APIFRAME_TOPOLOGY_*`` (sizes, and where to report).
    :param api_url: The API (an emulator) that the connection ``apiframe_default`` points at.
    :param key: The connection's API key.
    :param results: The folder the DAGs report what their runs ended with in.
    :param sizes: ``rows``, ``chunk`` and ``mapped``, as the DAGs read them.
    """

    def __init__(
        self,
        folder: Path,
        dags_folder: Path,
        api_url: str,
        key: str,
        *,
        results: Path,
        sizes: dict[str, int],
        rate_limit: int = TOPOLOGY_RATE_LIMIT,
        worker_concurrency: int = 2,
    ) -> None:
        self.folder = folder
        self.statsd = StatsdListener()
        self.postgres = PostgresServer()
        self.redis = RedisServer(persistent=True)
        self._dags_folder = dags_folder
        self._api_url = api_url
        self._key = key
        self._results = results
        self._sizes = sizes
        self._rate_limit = rate_limit
        self._concurrency = worker_concurrency
        self.cluster: AirflowCluster | None = None

    def __enter__(self) -> Topology:
        try:
            self.postgres.start()
            self.redis.start()
            self.cluster = AirflowCluster(
                self.folder / "home",
                self._dags_folder,
                self._env(),
                components=self._components(),
                database_url=self.postgres.url,
            ).__enter__()
            self.cluster.wait_for(
                "the DAGs to be parsed",
                lambda: {d for (d,) in self.cluster.query("select dag_id from dag")} >= set(TOPOLOGY_DAGS),
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.cluster is not None:
                self.cluster.__exit__()
        finally:
            self.redis.__exit__()
            self.postgres.__exit__()
            self.statsd.close()

    def _env(self) -> dict[str, str]:
        api = urlparse(self._api_url)
        extra = {"rate_limit_per_minute": self._rate_limit, "rate_limit_redis_conn_id": "apiframe_budget"}
        return {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.component_name",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"{self.redis.url}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.postgres.url}",
            "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
            # A task whose worker died is failed (and retried) after 10 s without a heartbeat.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "10",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            # A message a dead worker had taken but not started comes back after a minute.
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(self.statsd.port),
            # Big batches' results in object storage, the metadata database holding their path.
            "AIRFLOW__CORE__XCOM_BACKEND": XCOM_OBJECT_STORAGE,
            "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"file://{self.folder / 'xcom'}",
            "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "1024",
            "AIRFLOW_CONN_APIFRAME_DEFAULT": f"apiframe://:{self._key}@{api.hostname}:{api.port}?{urlencode(extra)}",
            "AIRFLOW_CONN_APIFRAME_BUDGET": f"{self.redis.url}/1",
            "APIFRAME_TOPOLOGY_RESULTS": str(self._results),
            **{f"APIFRAME_TOPOLOGY_{name.upper()}": str(value) for name, value in self._sizes.items()},
        }

    def _components(self) -> dict[str, Component]:
        components = {
            name: Component(name, APIFRAME_COMPONENT=name)
            for name in ("api-server", "dag-processor", "scheduler")
        }
        for name in TRIGGERERS:
            # Both on one machine: neither serves its logs (they would share a port).
            components[name] = Component("triggerer", "--skip-serve-logs", APIFRAME_COMPONENT=name)
        for name in WORKERS:
            components[name] = Component(
                "celery", "worker", "--concurrency", str(self._concurrency), "--celery-hostname",
                f"{name}@%h", "--pid", str(self.folder / f"{name}.pid"), "--skip-serve-logs",
                APIFRAME_COMPONENT=name,
            )  # fmt: skip
        return components

    @property
    def airflow(self) -> AirflowCluster:
        assert self.cluster is not None, "the topology is not running"
        return self.cluster

    def trigger(self, dag_id: str) -> None:
        self.airflow.cli("dags", "trigger", dag_id)

    def run_state(self, dag_id: str) -> str | None:
        """The DAG's last run's state once it ended, else None."""
        rows = self.airflow.query("select state from dag_run where dag_id = ?", dag_id)
        state = rows[-1][0] if rows else None
        return str(state) if state in ("success", "failed") else None

    def worker_running(self, dag_id: str) -> str | None:
        """A worker that runs a task of the DAG now, by the task's process."""
        pids = {
            int(pid)
            for (pid,) in self.airflow.query(
                "select pid from task_instance where dag_id = ? and state = 'running'", dag_id
            )
            if pid
        }
        for name in WORKERS:
            process = self.airflow.processes.get(name)
            if process is not None and pids & _tree(process.pid):
                return name
        return None

    def triggerer_of(self, dag_id: str) -> str | None:
        """The triggerer that runs the DAG's deferred task's trigger now."""
        rows = self.airflow.query(
            "select j.hostname from task_instance ti join trigger t on ti.trigger_id = t.id "
            "join job j on t.triggerer_id = j.id where ti.dag_id = ? and ti.state = 'deferred'",
            dag_id,
        )
        return str(rows[0][0]) if rows else None

    @staticmethod
    def other(triggerer: str) -> str:
        return next(name for name in TRIGGERERS if name != triggerer)

    def processes(self) -> set[int]:
        """Every process of the topology now: the components with their children, Redis, PostgreSQL."""
        pids: set[int] = set()
        for process in self.airflow.processes.values():
            pids |= _tree(process.pid)
        for server in (self.redis, self.postgres):
            if server.pid is not None:
                pids |= _tree(server.pid)
        return pids

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.airflow.home.glob("*.log"))
        )


def _tree(pid: int) -> set[int]:
    try:
        process = psutil.Process(pid)
        return {pid, *(child.pid for child in process.children(recursive=True))}
    except psutil.NoSuchProcess:
        return set()


def still_running(pids: set[int]) -> list[dict[str, Any]]:
    """The processes of ``pids`` that still run (zombies excepted), with their command lines."""
    alive = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append({"pid": pid, "cmdline": " ".join(process.cmdline())})
        except psutil.NoSuchProcess:
            continue
    return alive
