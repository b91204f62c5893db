"""
A daily credit limit shared through Redis by two Airflow processes, each running a task mapped over 25
prompts (``dag.test()``, its own Airflow home): together they submit exactly the jobs the limit pays for,
and every other task instance fails with the limit's message.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer
from tests.conftest import TEST_KEY, assert_key_in_no_file, connection_uri

HERE = Path(__file__).resolve().parent
LIMIT = 100
PRICE = 7  # imagen-4
pytestmark = pytest.mark.skipif(
    Version(version("apache-airflow")).major < 3,
    reason="the limit's code is the same on Airflow 2, where tests/operators run it; one such run suffices",
)


def test_two_processes_share_a_daily_limit_through_redis(tmp_path, redis_url):
    homes = [tmp_path / "home-0", tmp_path / "home-1"]
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run(
        [airflow, "db", "migrate"],
        env=dict(os.environ, AIRFLOW_HOME=str(homes[0])),
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The migrated database only: the generated airflow.cfg names its own home's database.
    homes[1].mkdir()
    shutil.copy(homes[0] / "airflow.db", homes[1] / "airflow.db")
    with EmulatorServer(EmulatorConfig(api_keys=(TEST_KEY,), job_duration=0.3)) as server:
        connection = connection_uri(
            server.url, credit_limit=LIMIT, rate_limit_redis_conn_id="limit_redis", max_retries=3
        )
        runs = []
        for process, home in enumerate(homes):
            env = dict(
                os.environ,
                AIRFLOW_HOME=str(home),
                AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
                AIRFLOW__CORE__DAGS_FOLDER=str(HERE / "limit_dags"),
                AIRFLOW__CORE__LOAD_EXAMPLES="False",
                # Two Airflows starting at once on two cores: parsing may take longer than the default 30 s.
                AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="300",
                AIRFLOW_CONN_APIFRAME_DEFAULT=connection,
                AIRFLOW_CONN_LIMIT_REDIS=redis_url,
                APIFRAME_LIMIT_PROCESS=str(process),
            )
            runs.append(
                subprocess.Popen(
                    [sys.executable, HERE / "run_dag.py", "apiframe_credit_limit"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
            )
        try:
            outputs = [run.communicate(timeout=600)[0] for run in runs]
        finally:
            for run in runs:
                if run.poll() is None:
                    os.killpg(run.pid, signal.SIGKILL)
                    run.wait()
        stats = server.stats()
    assert all("RESULT " in output for output in outputs), [output[-3000:] for output in outputs]
    paid = LIMIT // PRICE
    assert stats["jobs_created"] == paid, stats
    spent = [output.count(f"apiframe: this task spent {PRICE} credits") for output in outputs]
    refused = [
        output.count(f"credit_limit of connection apiframe_default is {LIMIT} credits per day")
        for output in outputs
    ]
    assert sum(spent) == paid, outputs[0][-3000:]
    # Each refused task instance says so (its log and the failure it ends with may both show it).
    assert all(count > 0 for count in refused), (refused, outputs[refused.index(0)][-6000:])
    assert sum(min(count, 1) for count in refused) == 2
    text = "".join(outputs)
    assert text.count("ApiframeSpendLimitError") >= 50 - paid
    assert TEST_KEY not in text
    for home in homes:
        assert_key_in_no_file(home)
