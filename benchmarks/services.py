"""
The servers a cluster leans on, as throwaway processes for tests and benchmarks: a redis-server (that
can be restarted with its data, as a production Redis with persistence is) and a PostgreSQL (Debian's
package, on a data folder made for the run). Each lives in its own process group, on a free loopback
port, and takes its folder with it when it stops.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


class RedisServer:
    """
    A redis-server on a free port; ``persistent`` keeps every write in an append-only file, so that
    ``restart()`` brings back what was there (queued Celery messages, a key's pace).
    """

    def __init__(self, *, persistent: bool = False) -> None:
        program = shutil.which("redis-server")
        if program is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self._folder = tempfile.mkdtemp(prefix="apiframe-redis-")
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
        )
        self._command = [program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                         *persistence, "--dir", self._folder]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> RedisServer:
        self._process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, start_new_session=True)
        wait_until_listening(self.port, self._process, "redis-server", timeout=10)
        return self

    def stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)


class PostgresServer:
    """
    A PostgreSQL server with one database, ``airflow``, on a data folder made for it; ``url`` is for
    SQLAlchemy (psycopg2). Debian's server refuses to run as root: as root it runs as ``postgres``.
    """

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self._bin = Path(found[-1]).parent
        self.port = free_port()
        self.url = f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"
        self._folder = Path(tempfile.mkdtemp(prefix="apiframe-postgres-"))
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self._folder, "postgres", "postgres")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as_owner, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        data = self._folder / "data"
        self._run(str(self._bin / "initdb"), "-D", str(data), "-U", "airflow", "-A", "trust", "-E", "UTF8")
        # Only the test's loopback port; the socket in the data folder, not the system's /run/postgresql.
        self._process = subprocess.Popen(
            [*self._as_owner, str(self._bin / "postgres"), "-D", str(data), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(self._folder), "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL,
            stderr=(self._folder / "server.log").open("ab"),
            start_new_session=True,
        )  # fmt: skip
        wait_until_listening(self.port, self._process, "PostgreSQL")
        # Accepting connections comes a moment after listening: createdb waits for it.
        deadline = time.monotonic() + 30
        while True:
            try:
                self._run(str(self._bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                          "-U", "airflow", "airflow")  # fmt: skip
                return self
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None:
            # SIGINT: the fast shutdown, ending every backend of the group's postmaster.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
            self._process = None

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, in its own process group; yields its URL."""
    with RedisServer() as server:
        yield server.url
