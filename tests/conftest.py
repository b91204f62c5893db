from __future__ import annotations

import json
import os
import shutil
import tempfile

# Airflow reads its home and config at import time: point it at a throwaway folder first.
_OWN_AIRFLOW_HOME = (
    None if "AIRFLOW_HOME" in os.environ else tempfile.mkdtemp(prefix="apiframe-tests-airflow-")
)
if _OWN_AIRFLOW_HOME:
    os.environ["AIRFLOW_HOME"] = _OWN_AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# Each test starts from what it teaches: no process of the suite keeps (or reads) a history file unless
# a test asks for one.
os.environ["APIFRAME_HISTORY_DIR"] = ""

import pytest  # noqa: E402 - after AIRFLOW_HOME is set

pytest_plugins = ["airflow_provider_apiframe.emulator.pytest_plugin"]

TEST_KEY = "afk_test_suite_secret_3b9d"


def _airflow_2() -> bool:
    from importlib.metadata import version

    return version("apache-airflow").startswith("2.")


# The request, waiting and catalogue layers call nothing that differs between Airflow versions (the
# Redis provider's hook at most): their tests run once, on Airflow 3.3. The 2.11 suite runs everything
# that meets Airflow itself: operators, hooks, triggers, storage, the example DAGs, real processes.
collect_ignore_glob = ["wire/*", "waiting/*", "catalogue/*"] if _airflow_2() else []


def pytest_unconfigure(config):
    """The throwaway Airflow home goes with the session that made it."""
    if _OWN_AIRFLOW_HOME:
        shutil.rmtree(_OWN_AIRFLOW_HOME, ignore_errors=True)


def _resumes_from_task_state() -> bool:
    from airflow.providers.common.compat.sdk import ResumableJobMixin

    # Airflow 3.3+ hands out the SDK's mixin; older versions a stand-in that resubmits on every try.
    return ResumableJobMixin.__module__.startswith("airflow.sdk")


RESUMES_FROM_TASK_STATE = _resumes_from_task_state()


def assert_key_in_no_file(airflow_home) -> None:
    """Task logs, the metadata database (XCom, rendered templates, errors) and the config alike."""
    for path in airflow_home.rglob("*"):
        if path.is_file():
            assert TEST_KEY.encode() not in path.read_bytes(), path


@pytest.fixture(autouse=True)
def fresh_job_history():
    """Each test starts with a process that has learned nothing about any model's jobs."""
    from airflow_provider_apiframe.waiting.durations import forget_all

    forget_all()
    yield
    forget_all()


@pytest.fixture(autouse=True)
def fresh_uploads():
    """Each test's emulator knows no upload: none is reused from another test's."""
    from airflow_provider_apiframe.wire.uploads import UPLOADS

    UPLOADS.clear()
    yield
    UPLOADS.clear()


@pytest.fixture(autouse=True)
def fresh_credit_ledgers():
    """Each test's credit limits start empty: this process's ledgers hold no other test's jobs."""
    from airflow_provider_apiframe.spending import ledger

    ledger._local_ledgers.clear()
    yield
    ledger._local_ledgers.clear()


# XComs as triggers reach them (the triggerer's supervisor on Airflow 3, the database on Airflow 2),
# for the task instances tests stand in with: (dag_id, task_id, run_id, map_index, key) to a value that
# went through JSON. Real XCom is met by the DAG runs in tests/integration.
TASK_XCOMS: dict[tuple[str, str, str, int, str], object] = {}


def xcom_place(holder, key: str) -> tuple[str, str, str, int, str]:
    """Where a task instance's (or a batch plan's) XCom ``key`` is kept in ``TASK_XCOMS``."""
    map_index = -1 if holder.map_index is None else holder.map_index
    return (holder.dag_id, holder.task_id, holder.run_id, map_index, key)


@pytest.fixture(autouse=True)
def task_xcoms(monkeypatch):
    """Triggers read and write the XComs the tests' task instances pushed; none outlives its test."""
    from airflow_provider_apiframe.batch import plan

    async def read(holder, key):
        return TASK_XCOMS.get(xcom_place(holder, key))

    async def write(holder, key, value):
        TASK_XCOMS[xcom_place(holder, key)] = json.loads(json.dumps(value))

    monkeypatch.setattr(plan, "read_xcom", read)
    monkeypatch.setattr(plan, "write_xcom", write)
    yield TASK_XCOMS
    TASK_XCOMS.clear()


@pytest.fixture
def emulator(apiframe_emulator_factory):
    """A running emulator that knows TEST_KEY and finishes jobs in 0.3 s."""
    return apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=0.3)


def connection_uri(url: str, key: str | None = TEST_KEY, **extra: object) -> str:
    from urllib.parse import urlencode, urlparse

    parsed = urlparse(url)
    auth = f":{key}@" if key else ""
    query = f"?{urlencode(extra)}" if extra else ""
    return f"apiframe://{auth}{parsed.hostname}:{parsed.port}{query}"


@pytest.fixture
def apiframe_conn(emulator, monkeypatch):
    """The default apiframe connection, pointing at the emulator, as an environment variable."""
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, max_retries=3))
    return emulator


@pytest.fixture
def redis_url():
    """A real redis-server on a free loopback port, in its own process group, stopped with its children."""
    from benchmarks.services import redis_server

    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; `make test` installs it with apt")
    with redis_server() as url:
        yield url


def png(seed: int, size: tuple[int, int] = (8, 6)) -> bytes:
    """A small real PNG, different for each seed."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def stage_images():
    """
    Write a data set's part by hand, as ``store_images`` leaves one: an image per row id, with its manifest
    row; returns each image's path and row, in order.
    """
    import hashlib
    import json
    import uuid

    from airflow_provider_apiframe.storage.manifest import ManifestRow, part_name

    def stage(folder, ids, writer: str = "jobs:staged") -> list[tuple[str, ManifestRow]]:
        part = folder / part_name(writer)
        part.mkdir(parents=True, exist_ok=True)
        staged = []
        for seed, row_id in enumerate(ids):
            data = png(seed)
            name = f"{uuid.uuid4()}-1.png"
            (part / name).write_bytes(data)
            row = ManifestRow(
                file_name=name, id=row_id, job_id=name[:36], prompt=f"a teapot, {row_id}",
                model="flux-1.1-pro", options=json.dumps({"width": 8}), source_url=f"https://cdn.example/{name}",
                sha256=hashlib.sha256(data).hexdigest(), width=8, height=6, bytes=len(data), credits=4,
                created_at="2026-01-01T00:00:00Z", kind="image", content_type="image/png", duration=0.0,
            )  # fmt: skip
            staged.append((str(part / name), row))
        with (part / "metadata.jsonl").open("a") as manifest:
            manifest.writelines(row.to_line() for _, row in staged)
        return staged

    return stage
