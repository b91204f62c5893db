"""The example DAGs, parsed and then run for real with ``airflow dags test`` against the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import TEST_KEY, assert_key_in_no_file
from tests.emulator.media_checks import wav_seconds
from tests.operators.test_media import probe

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "example_dags"
# What the demo writes beside the images.
DEMO_FILES = {"contact_sheet.html", "contact_sheet.png", "airflow.log"}
# Where example_apiframe_lora_style keeps its training data set and what it drew with the LoRA.
LORA_FOLDERS = {"linocut_style", "linocut_lora"}


def test_example_dags_parse_without_errors():
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert {
        "example_apiframe_imagen",
        "example_apiframe_imagen_mapped",
        "example_apiframe_imagen_batch",
        "example_apiframe_models",
        "example_apiframe_sensor",
        "example_apiframe_decorator",
        "example_apiframe_product_shot",
        "example_apiframe_midjourney",
        "example_apiframe_clip_with_music",
        "example_apiframe_review",
        "example_apiframe_lora_style",
    } <= set(bag.dag_ids)


def test_the_review_example_says_what_it_needs_where_it_cannot_run():
    """Airflow 3.1+ runs the review (tests/integration/ui/test_review_ui.py); older ones fail saying why."""
    from airflow.models import DagBag
    from airflow.providers.common.compat.sdk import AirflowFailException

    dag = DagBag(dag_folder=str(EXAMPLES / "example_apiframe_review.py")).dags["example_apiframe_review"]
    try:
        import airflow.providers.standard.operators.hitl  # noqa: F401
    except Exception:
        [task] = dag.tasks
        with pytest.raises(
            AirflowFailException, match=r"Human review needs Airflow 3\.1\+ with apache-airflow-prov"
        ):
            task.python_callable()
    else:
        assert [task.task_id for task in dag.topological_sort()] == [
            "generate",
            "review_page",
            "review",
            "publish",
        ]


@pytest.fixture(scope="module")
def dag_runs(tmp_path_factory):
    """Every example DAG run once through the demo script; shared by the assertions below."""
    from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer

    tmp = tmp_path_factory.mktemp("dags")
    # A LoRA trains in 3 s, done by the trigger's first read (5 s after the task defers).
    media = {"video_duration_factor": 2.0, "music_duration_factor": 2.0, "lora_duration_factor": 3.0}
    with EmulatorServer(EmulatorConfig(api_keys=(TEST_KEY,), job_duration=1.0, **media)) as server:
        result = subprocess.run(
            [
                sys.executable,
                ROOT / "scripts" / "demo.py",
                "--emulator-url",
                server.url,
                "--api-key",
                TEST_KEY,
                "--dag",
                "example_apiframe_imagen",
                "--dag",
                "example_apiframe_imagen_mapped",
                "--dag",
                "example_apiframe_imagen_batch",
                "--dag",
                "example_apiframe_models",
                "--dag",
                "example_apiframe_sensor",
                "--dag",
                "example_apiframe_decorator",
                "--dag",
                "example_apiframe_product_shot",
                "--dag",
                "example_apiframe_midjourney",
                "--dag",
                "example_apiframe_clip_with_music",
                "--dag",
                "example_apiframe_lora_style",
                "--output",
                tmp / "images",
                "--airflow-home",
                tmp / "home",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            # Lineage events of every task go to a file, as the OpenLineage provider's file transport has it.
            env={
                **os.environ,
                "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                    {"type": "file", "log_file_path": str(tmp / "lineage.jsonl"), "append": True}
                ),
            },
        )
        stats = server.stats()
        # What the API holds of the LoRA DAG: its LoRAs (archived ones too) and its flux-lora jobs.
        lora_api = {
            "loras": emulator_get(server, "/v2/loras?includeArchived=true")["items"],
            "flux_lora_jobs": emulator_get(server, "/v2/jobs?model=flux-lora")["jobs"],
        }
    return result, tmp, stats, lora_api


def emulator_get(server, path: str) -> dict:
    """One of the API's own answers, as the team's key reads it."""
    import requests

    response = requests.get(f"{server.url}{path}", headers={"X-API-Key": TEST_KEY}, timeout=30)
    response.raise_for_status()
    return response.json()


def test_dags_succeed_and_write_images_of_the_requested_size(dag_runs):
    result, tmp, stats, _ = dag_runs
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    found = []
    stored = [p for p in (tmp / "images").rglob("*.*") if p.is_file() and p.name not in DEMO_FILES]
    # The LoRA DAG's data sets have a test of their own.
    stored = [p for p in stored if not LORA_FOLDERS & set(p.relative_to(tmp / "images").parts)]
    # The clip's mask is the DAG's own drawing; its video and songs are checked below.
    for path in sorted(p for p in stored if p.suffix in (".png", ".jpg") and p.parent.name != "masks"):
        with Image.open(path) as image:
            found.append((path.parent.name, image.format, image.size))
    # The single and the mapped Imagen DAGs, and the job the sensor waited for.
    singles = [("images", "PNG", (1408, 768))] + [("images", "JPEG", (1024, 1024))] * 4
    # The batch's rows, each in its row id's folder, with the row's own aspect ratio where it has one.
    batch = [("animal-000", "PNG", (1408, 768))] + [(f"animal-00{i}", "PNG", (1024, 1024)) for i in (1, 2, 3)]
    # Three model families on the same two prompts, each with its own options.
    models = [("flux-1.1-pro", "PNG", (1024, 768))] * 2 + [("imagen-4", "PNG", (1280, 896))] * 2
    # The decorator's posters: 16:9 from the decorator, 1:1 where the function asked for it.
    posters = [("posters", "PNG", (1408, 768))] * 2 + [("posters", "PNG", (1024, 1024))]
    # The product shot, 768 upscaled twice and cut out, in its data set; Midjourney's U2.
    chains = [("midjourney", "PNG", (1024, 1024))]
    ideogram = [entry for entry in found if entry[0] == "ideogram-v3-turbo"]
    [shot] = [entry for entry in found if entry[0].startswith("part-")]
    assert shot[1:] == ("PNG", (1536, 1536))
    assert sorted(
        entry for entry in found if entry[0] != "ideogram-v3-turbo" and not entry[0].startswith("part-")
    ) == sorted(singles + batch + models + posters + chains)
    # Ideogram's size for 4:3 is the API's choice: the ratio is what was asked.
    assert len(ideogram) == 2 and all(abs(w / h - 4 / 3) < 0.02 for _, _, (w, h) in ideogram)
    # The LoRA DAG's 20 training images and its flux-lora image.
    assert stats["jobs_created"] == 8 + 6 + 1 + 3 + 3 + 2 + 6 + 20 + 1


def test_the_clip_and_its_music_are_stored_as_they_were_asked(dag_runs, tmp_path):
    result, tmp, _, _ = dag_runs
    assert result.returncode == 0
    clip = tmp / "images" / "clip"
    [video] = clip.rglob("*.mp4")
    songs = sorted(clip.rglob("*.wav"))
    streams = probe(video.read_bytes(), tmp_path)
    [picture] = [s for s in streams["streams"] if s["codec_type"] == "video"]
    # 1080p from a 9:16 clip of 5 seconds; Suno's extend makes two songs.
    assert max(picture["width"], picture["height"]) == 1920 and picture["width"] < picture["height"]
    assert float(streams["format"]["duration"]) == pytest.approx(5, abs=0.6)
    assert len(songs) == 2 and all(wav_seconds(song.read_bytes())[0] > 0 for song in songs)
    rows = [json.loads(line) for part in clip.iterdir() for line in (part / "metadata.jsonl").open()]
    assert sorted(row["kind"] for row in rows) == ["audio", "audio", "video"]
    [row] = [row for row in rows if row["kind"] == "video"]
    assert (row["width"], row["height"], row["content_type"]) == (
        picture["width"],
        picture["height"],
        "video/mp4",
    )


def test_the_demo_prints_a_summary_and_a_contact_sheet_of_every_image(dag_runs):
    result, tmp, stats, _ = dag_runs
    output = tmp / "images"
    lines = result.stdout.splitlines()
    listed = re.findall(r"\n  \S+\.(?:png|jpg|mp4|wav) ", result.stdout)
    # One line per step, one per file, a few more: Airflow's own log is in the file the summary names.
    assert len(lines) < 1 + 10 + len(listed) + 10, result.stdout
    assert sum(" ok (" in line for line in lines) == 1 + 10  # db migrate, then each DAG
    assert f"Airflow's log: {output / 'airflow.log'}" in result.stdout
    assert "dags test example_apiframe_models" in (output / "airflow.log").read_text()
    page = (output / "contact_sheet.html").read_text()
    # Every job's file but the chains' intermediate ones (the shot and its upscale, the grid; the clip's
    # image, its hat, the clip before its upscale and the song before its extension), and Suno's extend
    # makes two songs.
    assert page.count("<figure>") == stats["jobs_created"] - 3 - 4 + 1 == len(listed)
    assert page.count("<video ") == 1 and page.count("<audio ") == 2
    assert "ideogram-v3-turbo" in page and "OPEN AIR CINEMA" in page and "magic_prompt_option=Off" in page
    with Image.open(output / "contact_sheet.png") as sheet:
        assert sheet.width == 4 * (256 + 16) and sheet.height > 256


def manifest_rows(folder: Path) -> list[dict]:
    """Every row of every part of a stored data set."""
    return [json.loads(line) for manifest in folder.rglob("metadata.jsonl") for line in manifest.open()]


def test_a_lora_trained_on_the_stored_style_set_draws_with_its_trigger_word_then_is_archived(dag_runs):
    """
    example_apiframe_lora_style: 20 images stored as a data set, one LoRA trained on it, and the flux-lora
    job sent that LoRA's id and its trigger word, both straight from the training task's output.
    """
    result, tmp, stats, lora_api = dag_runs
    assert result.returncode == 0
    [run_folder] = (tmp / "images" / "linocut_style").iterdir()  # the run's own data set
    rows = manifest_rows(run_folder)
    assert len(rows) == len(list(run_folder.rglob("*.png"))) == 20
    assert {row["model"] for row in rows} == {"flux-2-dev"} and len({row["id"] for row in rows}) == 20
    # Exactly one LoRA, trained on those 20 images as a style, and archived once the generation was done.
    assert stats["loras_created"] == 1 and stats["loras_by_status"] == {"ARCHIVED": 1}
    [lora] = lora_api["loras"]
    assert lora["name"].startswith("Linocut ") and lora["subjectKind"] == "style"
    assert lora["imageCount"] == 20 and lora["completedAt"] and lora["error"] is None
    # The one flux-lora job sent that LoRA's id, and its trigger word in the prompt.
    [job] = lora_api["flux_lora_jobs"]
    assert job["status"] == "COMPLETED"
    assert job["input"]["fluxLoraParams"]["loraId"] == lora["id"]
    assert f"{lora['triggerWord']} style" in job["input"]["prompt"]
    # Its image is stored in a data set of its own, with the prompt as it was sent.
    [row] = manifest_rows(tmp / "images" / "linocut_lora")
    assert (row["job_id"], row["prompt"], row["model"]) == (job["id"], job["input"]["prompt"], "flux-lora")


def test_a_run_where_every_task_succeeds_logs_no_error_and_no_warning_of_ours(dag_runs):
    result, tmp, _, _ = dag_runs
    assert result.returncode == 0
    lines = (tmp / "images" / "airflow.log").read_text().splitlines()
    # Airflow 3's structlog level ("[error    ]"), Airflow 2's logging ("{file.py:12} ERROR - ...").
    errors = [line for line in lines if "[error" in line or " ERROR " in line]
    ours = [line for line in lines if "airflow_provider_apiframe" in line and "Warning" in line]
    assert errors == [] and ours == []


def test_the_key_appears_in_no_output_nor_log(dag_runs):
    result, tmp, _, _ = dag_runs
    assert TEST_KEY not in result.stdout and TEST_KEY not in result.stderr
    assert_key_in_no_file(tmp / "home")
    assert_key_in_no_file(tmp / "images")  # Airflow's log, the contact sheet, the images


LINKED_TASKS = {
    ("example_apiframe_imagen", "generate", -1),
    ("example_apiframe_imagen_mapped", "generate", 2),
    ("example_apiframe_imagen_batch", "generate", -1),
    ("example_apiframe_models", "generate_ideogram_v3_turbo", 1),
    ("example_apiframe_sensor", "wait_for_job", -1),
    ("example_apiframe_decorator", "travel_poster", 0),
}
# Every task's link in one process: (dag_id, task_id, run_id, map_index) rows in, a link a line out.
LINKS_ON_AIRFLOW_2 = """
import json, sys
from airflow.models.taskinstancekey import TaskInstanceKey
from airflow_provider_apiframe.links import ApiframeImageLink
for dag_id, task_id, run_id, map_index in json.loads(sys.argv[1]):
    print(ApiframeImageLink().get_link(None, ti_key=TaskInstanceKey(dag_id, task_id, run_id, 1, map_index)))
"""


def _first_image(result) -> str:
    # A generate task returns URLs; the batch returns rows, each with its images.
    return result[0]["images"][0] if isinstance(result[0], dict) else result[0]


def test_every_task_links_to_its_first_image(dag_runs):
    import sqlite3

    from airflow import __version__ as airflow_version

    _, tmp, _, _ = dag_runs
    home = tmp / "home"
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute("SELECT dag_id, task_id, map_index, run_id, key, value FROM xcom").fetchall()
    # SQLite hands a JSON number back as a number, text and bytes as they were stored.
    values = {
        (d, t, m, k): (run_id, json.loads(v) if isinstance(v, str | bytes) else v)
        for d, t, m, run_id, k, v in rows
    }
    tasks = sorted(LINKED_TASKS)
    if airflow_version.startswith("2."):
        # Airflow 2's webserver asks the link class itself when the page is drawn.
        keys = [(d, t, values[d, t, m, "return_value"][0], m) for d, t, m in tasks]
        links = subprocess.run(
            [sys.executable, "-c", LINKS_ON_AIRFLOW_2, json.dumps(keys)],
            capture_output=True,
            text=True,
            env={**os.environ, "AIRFLOW_HOME": str(home)},
            check=True,
        ).stdout.splitlines()
    else:
        # Airflow 3's task runner stores each link when the task ends; the API server reads it back.
        links = [values[d, t, m, "_link_ApiframeImageLink"][1] for d, t, m in tasks]
    for (dag_id, task_id, map_index), link in zip(tasks, links, strict=True):
        _, result = values[dag_id, task_id, map_index, "return_value"]
        assert link == _first_image(result), (dag_id, task_id)


def test_a_generate_task_says_what_it_cost(dag_runs):
    import sqlite3

    _, tmp, _, _ = dag_runs
    with sqlite3.connect(tmp / "home" / "airflow.db") as db:
        rows = db.execute(
            "SELECT map_index, value FROM xcom WHERE dag_id = 'example_apiframe_imagen_mapped' "
            "AND task_id = 'generate' AND key = 'credit_cost'"
        ).fetchall()
    # imagen-4's published price, once per mapped prompt.
    assert sorted(json.loads(v) if isinstance(v, str | bytes) else v for _, v in rows) == [7] * len(rows)
    assert len(rows) == 3


def test_generating_tasks_report_lineage_model_in_cdn_folder_out(dag_runs):
    _, tmp, _, _ = dag_runs
    events = [json.loads(line) for line in (tmp / "lineage.jsonl").read_text().splitlines()]
    completed = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}

    def datasets(job: str, side: str) -> list[tuple[str, str, int | None]]:
        return [
            (
                d["namespace"].split("//")[0],
                d["name"],
                d.get("outputFacets", {}).get("outputStatistics", {}).get("rowCount"),
            )
            for d in completed[job][side]
        ]

    assert datasets("example_apiframe_imagen.generate", "inputs") == [("http:", "models/imagen-4", None)]
    assert datasets("example_apiframe_imagen.generate", "outputs") == [("http:", "/cdn/images", 1)]
    # A batch of four rows: one output dataset with four images, not four datasets.
    assert datasets("example_apiframe_imagen_batch.generate", "outputs") == [("http:", "/cdn/images", 4)]
    assert datasets("example_apiframe_models.generate_flux_1_1_pro", "inputs")[0][1] == "models/flux-1.1-pro"
    # What each job cost rides along as the run facet apiframe_spend.
    spend = completed["example_apiframe_imagen.generate"]["run"]["facets"]["apiframe_spend"]
    assert (spend["credits"], spend["model"]) == (7, "imagen-4")


@pytest.mark.parametrize("dag_id", ["example_apiframe_product_shot", "example_apiframe_clip_with_music"])
def test_the_examples_sum_what_their_run_spent(dag_runs, dag_id):
    import sqlite3

    _, tmp, _, _ = dag_runs
    with sqlite3.connect(tmp / "home" / "airflow.db") as db:
        costs = dict(
            db.execute("SELECT task_id, value FROM xcom WHERE dag_id = ? AND key = 'credit_cost'", (dag_id,))
        )
        [(summed,)] = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = 'spend' AND key = 'return_value'",
            (dag_id,),
        )
    costs = {task_id: _value(value) for task_id, value in costs.items()}
    summed = _value(summed)
    assert len(costs) >= 3 and all(cost > 0 for cost in costs.values())
    assert summed == {**costs, "total": sum(costs.values())}


def _value(stored: object) -> object:
    """An XCom value as the metadata database holds it: JSON text (Airflow 2) or a JSON column (3)."""
    return json.loads(stored) if isinstance(stored, str | bytes) else stored
