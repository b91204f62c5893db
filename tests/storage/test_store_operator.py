"""``ApiframeStoreImagesOperator`` over loopback HTTP: which jobs it reads, what it stores and skips, the
asset event it announces, and the key it never hands to the CDN or writes anywhere."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from airflow.providers.common.compat.sdk import Asset

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.operators import store as store_module
from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.store import ApiframeStoreImagesOperator, JobReference, read_jobs
from airflow_provider_apiframe.storage.image_store import jobs_writer
from airflow_provider_apiframe.storage.manifest import part_name
from tests.batch.test_batch_operator import run_to_end
from tests.conftest import TEST_KEY, connection_uri
from tests.operators.test_imagen import TaskInstance
from tests.storage.conftest import (
    FLUX_WEBP,
    GPT_PAIR,
    IMAGEN_PNG,
    SUNO_MADE,
    SUNO_PAIR,
    VIDEO_WIDE,
    VIDEO_WIDE_MADE,
)
from tests.storage.servers import forward_to, serve

# Fixed ids: the parametrized tests' names must be the same in every pytest worker.
A, B = str(uuid.UUID(int=0xA)), str(uuid.UUID(int=0xB))


def outlet_events():
    """The accessors the installed Airflow puts in a task's context."""
    try:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    except ImportError:  # Airflow 2
        from airflow.utils.context import OutletEventAccessors
    return OutletEventAccessors()


def run(operator):
    """The operator's execute with the context a task gets; returns its result and the context."""
    context = {"ti": TaskInstance(task_id=operator.task_id), "outlet_events": outlet_events()}
    return operator.execute(context), context


def store(tmp_path, jobs, **kwargs):
    kwargs.setdefault("outlets", [Asset(tmp_path.as_uri())])
    return ApiframeStoreImagesOperator(task_id="store", jobs=jobs, destination=tmp_path.as_uri(), **kwargs)


def manifest_rows(manifest: str) -> list[dict]:
    with open(manifest.removeprefix("file://"), encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("jobs", "expected"),
    [
        (A, [JobReference(A)]),
        (f"  {A}\n", [JobReference(A)]),
        ([A, B, A.upper()], [JobReference(A), JobReference(B)]),
        (str([A, B]), [JobReference(A), JobReference(B)]),  # a template's rendering of a list
        (json.dumps([A, [B]]), [JobReference(A), JobReference(B)]),
        ([[A], [B, A]], [JobReference(A), JobReference(B)]),  # mapped tasks' XComs
        (
            [{"job_id": None, "status": "ERROR"}, {"job_id": A, "id": "koi-1"}],
            [
                JobReference(A, {"job_id": A, "id": "koi-1"}),
                JobReference(None, {"job_id": None, "status": "ERROR"}),
            ],
        ),
        ([], []),
    ],
)
def test_jobs_are_read_from_ids_rows_lists_and_rendered_templates(jobs, expected):
    assert read_jobs(jobs) == expected


@pytest.mark.parametrize(
    ("jobs", "path"),
    [
        ("koi", "jobs"),
        ([A, 7], "jobs[1]"),
        ([{"job_id": "koi"}], "jobs[0].job_id"),
        ("[A, B", "jobs"),
        ("[" * 100_000 + "]" * 100_000, "jobs"),  # nesting no parser can hold
        ([{"job_id": 10**5000}], "jobs[0].job_id"),  # an int past str()'s digit limit
    ],
)
def test_bad_jobs_are_named_and_literal_ones_fail_the_dag_import(jobs, path, tmp_path):
    with pytest.raises(ApiframeValidationError) as raised:
        store(tmp_path, jobs)
    assert path in raised.value.details
    # A template is checked once rendered.
    store(tmp_path, "{{ ti.xcom_pull(task_ids='generate', key='job_id') }}")


def test_a_batch_is_stored_with_its_row_ids_and_its_failed_rows_are_skipped(
    emulator, apiframe_conn, tmp_path
):
    ti = TaskInstance(task_id="generate")
    rows = run_to_end(
        ImagenBatchGenerateOperator(
            task_id="generate",
            prompts=[{"id": "koi-1", "prompt": "koi at dawn"}, {"id": "koi-2", "prompt": "koi [fail]"}],
            output_format="png",
            max_resubmissions=0,
            accept_partial=True,
            poll_interval=0.2,
        ),
        {"ti": ti},
    )
    assert [row["status"] for row in rows] == ["COMPLETED", "FAILED"]
    asset = Asset(tmp_path.as_uri())

    paths, context = run(store(tmp_path, rows, outlets=[asset]))

    [row] = manifest_rows(context["outlet_events"][asset].extra["manifest"])
    assert (row["id"], row["job_id"], row["prompt"], row["model"]) == (
        "koi-1",
        rows[0]["job_id"],
        "koi at dawn",
        "imagen-4",
    )
    assert json.loads(row["options"]) == {"aspect_ratio": "1:1", "output_format": "png", "image_size": "1K"}
    assert row["credits"] == rows[0]["credit_cost"] == 7
    # The part is named after every job asked for, the failed one too: it stays put when that one is redone.
    part = part_name(jobs_writer([rows[0]["job_id"], rows[1]["job_id"]]))
    assert paths == [f"{tmp_path.as_uri()}/{part}/{rows[0]['job_id']}-1.png"]
    assert context["outlet_events"][asset].extra == {
        "data_set": tmp_path.as_uri(),
        "manifest": paths[0].rpartition("/")[0] + "/metadata.jsonl",
        "count": 1,
        "skipped": 1,
        "paths": paths,
    }

    # A retry of the task: same part, same paths, nothing downloaded.
    emulator.add_faults({"action": "status", "path": "/cdn/", "status": 410, "times": 10})
    again, _ = run(store(tmp_path, rows, outlets=[asset]))
    assert again == paths and "410" not in emulator.stats()["responses_by_status"]


def test_jobs_by_id_give_prompt_and_options_from_the_job_and_unfinished_ones_are_skipped(
    make_jobs, hook, tmp_path
):
    done = make_jobs(FLUX_WEBP, IMAGEN_PNG)
    running = hook.submit_generation("imagen-4", "koi [never]", {})

    paths, context = run(store(tmp_path, str([*done, running])))  # as "{{ ... }}" renders a list

    extra = context["outlet_events"][Asset(tmp_path.as_uri())].extra
    rows = manifest_rows(extra["manifest"])
    assert [(row["job_id"], row["model"], row["prompt"], json.loads(row["options"])) for row in rows] == [
        (done[0], *FLUX_WEBP),
        (done[1], *IMAGEN_PNG),
    ]
    assert (extra["count"], extra["skipped"], len(paths)) == (2, 1, 2)


def test_the_event_names_at_most_a_hundred_images(make_jobs, tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "EVENT_PATHS", 2)
    jobs = make_jobs(GPT_PAIR, IMAGEN_PNG)

    paths, context = run(store(tmp_path, jobs))

    extra = context["outlet_events"][Asset(tmp_path.as_uri())].extra
    assert (extra["count"], extra["paths"], len(paths)) == (3, paths[:2], 3)


def test_without_an_asset_outlet_no_event_is_touched(make_jobs, tmp_path):
    paths, context = run(store(tmp_path, make_jobs(IMAGEN_PNG), outlets=[]))
    assert len(paths) == 1 and len(context["outlet_events"]) == 0


def test_the_key_goes_to_the_api_only_and_into_no_file(emulator, monkeypatch, tmp_path):
    from airflow_provider_apiframe.hooks.apiframe import ApiframeHook

    with serve(forward_to(emulator.url)) as proxy:
        # The emulator builds image URLs from the host asked, so the CDN requests come here too.
        monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(proxy.url))
        hook = ApiframeHook()
        job = hook.submit_generation(*IMAGEN_PNG)
        deadline = time.monotonic() + 30
        while not hook.get_job(job).status.is_terminal and time.monotonic() < deadline:
            time.sleep(0.1)

        paths, context = run(store(tmp_path / "koi", [job]))

    sent = [
        (path.split("/")[1], {k.lower(): v for k, v in h.items()}.get("x-api-key"))
        for _, path, h in proxy.requests
    ]
    assert {key for area, key in sent if area == "v2"} == {TEST_KEY}
    assert [key for area, key in sent if area == "cdn"] == [None]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 2 and all(TEST_KEY.encode() not in p.read_bytes() for p in written)
    assert TEST_KEY not in json.dumps(
        [paths, context["outlet_events"][Asset((tmp_path / "koi").as_uri())].extra]
    )


def test_video_and_music_jobs_are_stored_with_their_kind_and_reported_as_images_are(
    emulator, make_jobs, tmp_path
):
    jobs = make_jobs(VIDEO_WIDE, SUNO_PAIR, IMAGEN_PNG)
    asset = Asset(tmp_path.as_uri())
    operator = store(tmp_path, jobs, outlets=[asset])

    paths, context = run(operator)

    part = f"{tmp_path.as_uri()}/{part_name(jobs_writer(jobs))}"
    assert paths == [
        f"{part}/{jobs[0]}-1.mp4",
        f"{part}/{jobs[1]}-1.wav",
        f"{part}/{jobs[1]}-2.wav",
        f"{part}/{jobs[2]}-1.png",
    ]
    extra = context["outlet_events"][asset].extra
    assert extra == {
        "data_set": tmp_path.as_uri(),
        "manifest": f"{part}/metadata.jsonl",
        "count": 4,
        "skipped": 0,
        "paths": paths,
    }
    rows = manifest_rows(extra["manifest"])
    assert [(row["kind"], row["width"], row["height"], row["duration"]) for row in rows] == [
        ("video", *VIDEO_WIDE_MADE),
        ("audio", 0, 0, SUNO_MADE[0]),
        ("audio", 0, 0, SUNO_MADE[0]),
        ("image", 1408, 768, 0.0),
    ]
    assert (rows[0]["model"], rows[0]["prompt"], json.loads(rows[0]["options"])) == VIDEO_WIDE[1:]
    # Lineage: the CDN folders of each kind in, the data set's part out with how many files it received.
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert sorted(d.name for d in lineage.inputs) == ["/cdn/audio", "/cdn/images", "/cdn/videos"]
    [output] = lineage.outputs
    assert (output.namespace, output.name) == ("file://", part.removeprefix("file://"))
    assert output.outputFacets["outputStatistics"].rowCount == 4
    # A retry copies nothing.
    emulator.add_faults({"action": "status", "path": "/cdn/", "status": 410, "times": 10})
    again, _ = run(store(tmp_path, jobs, outlets=[asset]))
    assert again == paths and "410" not in emulator.stats()["responses_by_status"]
