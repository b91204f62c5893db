from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from airflow_provider_apiframe.waiting import history_file
from airflow_provider_apiframe.waiting.durations import forget_all, history_for, quantile

TEACH = """
from airflow_provider_apiframe.waiting.durations import history_for
history = history_for("imagen-4")
for i in range(20):
    duration = 8.0 + 0.2 * i
    history.record(duration, [(duration * k / 10, 11 * k) for k in range(1, 9)])
"""

ASK = """
import json
from airflow_provider_apiframe.waiting.durations import history_for, quantile
history = history_for("imagen-4")
estimate = history.end_estimate(5.0, [(5.0, 55)])
print(json.dumps([history.known_durations, history.reports_progress, quantile(estimate, 0.5)]))
"""


def run_python(code: str, folder) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, history_file.HISTORY_DIR_ENV: str(folder)},
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
        check=True,
    )
    return done.stdout


def test_a_fresh_process_starts_from_what_an_earlier_one_learned(tmp_path):
    # A worker's blocking wait is a new process for every task: it need not start knowing nothing.
    run_python(TEACH, tmp_path)
    known, reports_progress, median_end = json.loads(run_python(ASK, tmp_path))
    assert known == 20 and reports_progress
    # 55 % after 5 s of jobs that show 11 % per tenth of their life: half-way, so about 10 s.
    assert 9.0 <= median_end <= 11.0
    kept = json.loads((tmp_path / "imagen-4.json").read_text())
    assert set(kept) == {"version", "durations", "by_progress", "fractions"}
    assert [path.name for path in tmp_path.iterdir()] == ["imagen-4.json"]  # nothing left aside


def test_nothing_is_kept_where_the_folder_setting_is_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv(history_file.HISTORY_DIR_ENV, "")
    history_for("imagen-4").record(8.0, [(4.0, 50)])
    history_for("imagen-4").save()
    assert list(tmp_path.rglob("*")) == []


def test_by_default_the_files_live_in_airflow_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.delenv(history_file.HISTORY_DIR_ENV)
    history_for("flux-1.1-pro").record(8.0, [(4.0, 50)])
    assert (tmp_path / "apiframe" / "history" / "flux-1.1-pro.json").is_file()


@pytest.mark.parametrize("content", ["{not json", '{"version": 1, "durations": "many"}', "[1, 2]"])
def test_an_unreadable_file_is_ignored_and_replaced(tmp_path, monkeypatch, caplog, content):
    monkeypatch.setenv(history_file.HISTORY_DIR_ENV, str(tmp_path))
    (tmp_path / "imagen-4.json").write_text(content)
    history = history_for("imagen-4")
    assert history.known_durations == 0
    history.record(8.0, [(4.0, 50)])
    forget_all()
    assert history_for("imagen-4").known_durations == 1
    if content.startswith("{not"):
        assert "Ignoring the learned job history" in caplog.text


def test_a_folder_that_cannot_be_written_costs_the_learning_not_the_wait(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(history_file.HISTORY_DIR_ENV, str(blocker / "history"))
    history = history_for("imagen-4")
    for _ in range(10):
        history.record(8.0, [(4.0, 50)])
    assert history.known_durations == 10
    assert quantile(history.end_estimate(0.0), 0.5) == pytest.approx(8.0, rel=0.2)
    assert "Could not keep the learned job history" in caplog.text


ODD_MODELS = {
    "300-chars": "m" * 300,
    "301-chars-same-start": "m" * 300 + "x",
    "accented": "é" * 200,
    "slash": "flux/pro",
    "plain-lookalike": "flux_pro-",
    "traversal": "../../etc/passwd",
    "dot-dot": "..",
    "hidden": ".hidden",
    "empty": "",
    "newline": "a\nb",
    "nul": "a\x00b",
    "lone-surrogate": "\ud800",  # JSON can carry one; strict UTF-8 cannot encode it
}


def test_a_plain_model_name_is_its_own_file_name():
    assert history_file.file_name("imagen-4") == "imagen-4.json"
    assert history_file.file_name("flux-1.1-pro") == "flux-1.1-pro.json"


def test_any_other_model_name_becomes_a_short_safe_file_name_of_its_own():
    names = [history_file.file_name(model) for model in ODD_MODELS.values()]
    assert len(set(names)) == len(ODD_MODELS)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}\.json", name), name
    # Readable as far as they can be.
    assert history_file.file_name(ODD_MODELS["300-chars"]).startswith("m" * 40 + "-")
    assert history_file.file_name(ODD_MODELS["slash"]).startswith("flux_pro-")


# (Jobs of no model, "" included, share one history kept in memory only.)
@pytest.mark.parametrize(
    "model", [pytest.param(model, id=label) for label, model in ODD_MODELS.items() if model]
)
def test_what_is_learned_of_any_model_is_kept_and_read_back(tmp_path, monkeypatch, model):
    monkeypatch.setenv(history_file.HISTORY_DIR_ENV, str(tmp_path))
    history_for(model).record(8.0, [(4.0, 50)])
    history_for(model).save()
    forget_all()
    assert history_for(model).known_durations == 1
    [kept] = tmp_path.iterdir()  # in the folder, not beside it
    assert kept.name == history_file.file_name(model)


def test_a_history_file_that_cannot_be_read_is_ignored(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(history_file.HISTORY_DIR_ENV, str(tmp_path))
    (tmp_path / "imagen-4.json").mkdir()  # a folder where the file should be
    (tmp_path / "imagen-3.json").write_text('{"version": 1, "durations": [1e400, %s]}' % ("9" * 4000))
    assert history_file.load("imagen-4") is None
    assert history_for("imagen-3").known_durations == 0
    assert "Ignoring the learned job history" in caplog.text
