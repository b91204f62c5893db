"""The batch operator's own logic over loopback HTTP: rows, credit check, submit and wait triggers run as
the triggerer runs them, resubmission, results and the task state store. Real DAG runs are in
tests/integration/dags."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_apiframe.batch.plan import PLAN_KEY, SENT_KEY
from airflow_provider_apiframe.batch.state import STATE_KEY
from airflow_provider_apiframe.exceptions import (
    ApiframeBatchFailedError,
    ApiframeInsufficientCreditsError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.triggers.batch import ApiframeBatchSubmitTrigger, ApiframeBatchWaitTrigger
from tests.conftest import TASK_XCOMS, TEST_KEY, connection_uri, xcom_place
from tests.operators.test_imagen import StateStore, TaskInstance, first_event


def batch(**kwargs):
    kwargs.setdefault("task_id", "batch")
    kwargs.setdefault("poll_interval", 0.5)
    return ImagenBatchGenerateOperator(**kwargs)


def run_to_end(op, context, deferred_to=None, first=None):
    """
    execute, then each trigger as the triggerer would run it (rebuilt from its serialized kwargs).

    ``deferred_to(trigger class, kwargs)`` sees each trigger first; ``first``, a method's name and an
    event, starts there instead of ``execute``.
    """
    method, event = (op.execute, None) if first is None else (getattr(op, first[0]), first[1])
    for _ in range(20):
        try:
            return method(context) if event is None else method(context, event)
        except TaskDeferred as deferred:
            _, kwargs = deferred.trigger.serialize()
            if deferred_to is not None:
                deferred_to(type(deferred.trigger), kwargs)
            event = asyncio.run(first_event(type(deferred.trigger)(**kwargs)))
            method = getattr(op, deferred.method_name)
    raise AssertionError("the batch never ended")


@pytest.fixture
def batch_conn(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=0.5, credits=1000)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    return server


def test_every_bad_row_is_named_when_the_dag_is_parsed():
    with pytest.raises(ApiframeValidationError) as info:
        batch(prompts=["fine", {"prompt": "koi", "aspect_ratio": "2:1"}, {"id": "x"}, 7, " "])
    message = str(info.value)
    assert message.startswith("Task 'batch': 4 of 5 rows are invalid")
    assert "rows[1].imagenParams.aspect_ratio" in message and "16:9" in message
    assert "rows[2] (id 'x').prompt" in message and "rows[3]" in message and "rows[4].prompt" in message
    assert "rows[0]" not in message


def test_too_many_rows_and_duplicate_ids_are_refused():
    with pytest.raises(ApiframeValidationError, match="1 to 10000 rows"):
        batch(prompts=["koi"] * 10_001)
    with pytest.raises(ApiframeValidationError, match=r"rows\[1\] \(id 1\)\.id.*also the id of row 0"):
        batch(prompts=[{"prompt": "a", "id": 1}, {"prompt": "b", "id": 1}])


def test_a_batch_the_balance_cannot_pay_fails_before_any_submit(apiframe_emulator_factory, monkeypatch):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), credits=20)  # 2 imagen-4 images, 3 asked
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    with pytest.raises(ApiframeInsufficientCreditsError) as info:
        batch(prompts=["a", "b", "c"]).execute({"ti": TaskInstance()})
    assert info.value.credits_required == 21 and info.value.credits_available == 20
    assert server.stats()["submits"] == 0


def test_rows_come_back_in_order_with_their_ids_and_own_options(batch_conn):
    prompts = ["koi", {"prompt": "heron", "id": "h-1", "output_format": "png"}, {"prompt": "moss", "id": 7}]
    results = run_to_end(batch(prompts=prompts, output_format="jpg"), {"ti": TaskInstance()})
    assert [r["prompt"] for r in results] == ["koi", "heron", "moss"]
    assert [r["id"] for r in results] == [None, "h-1", 7]
    assert all(r["status"] == "COMPLETED" and r["error"] is None and r["credit_cost"] == 7 for r in results)
    assert results[0]["images"][0].endswith(".jpg") and results[1]["images"][0].endswith(".png")
    assert len({r["job_id"] for r in results}) == 3
    assert batch_conn.stats()["jobs_created"] == 3


def test_a_failed_job_is_resubmitted_under_its_successor_key_and_paid_once(batch_conn):
    results = run_to_end(batch(prompts=["koi", "heron [fail-first]"]), {"ti": TaskInstance()})
    assert [r["status"] for r in results] == ["COMPLETED", "COMPLETED"]
    stats = batch_conn.stats()
    assert stats["jobs_created"] == 3  # the failed job (refunded), its successor, and koi
    assert stats["credits_charged"] == 14


def test_rows_that_keep_failing_are_given_up_and_named(batch_conn):
    op = batch(prompts=["koi", {"prompt": "heron [fail]", "id": "h"}], max_resubmissions=1)
    with pytest.raises(ApiframeBatchFailedError) as info:
        run_to_end(op, {"ti": TaskInstance()})
    assert info.value.failed_rows == [1] and info.value.total_rows == 2
    assert "1 of 2 rows have no image" in str(info.value) and "row 1 (id 'h')" in str(info.value)
    assert batch_conn.stats()["jobs_created"] == 3  # koi, and heron twice: bounded


def test_partial_results_can_be_accepted(batch_conn):
    op = batch(prompts=["koi", "heron [fail]"], max_resubmissions=0, accept_partial=True)
    results = run_to_end(op, {"ti": TaskInstance()})
    assert results[0]["status"] == "COMPLETED"
    assert (
        results[1]["status"] == "FAILED"
        and results[1]["images"] == []
        and "content policy" in results[1]["error"]
    )


def test_a_retried_task_pays_nothing_again_and_with_a_state_store_submits_nothing(batch_conn):
    prompts = [f"koi {i}" for i in range(6)]
    first = run_to_end(
        batch(prompts=prompts), {"ti": TaskInstance(), "task_state_store": (store := StateStore())}
    )
    assert store == {f"{STATE_KEY}.0": {**store[f"{STATE_KEY}.0"]}} and len(store[f"{STATE_KEY}.0"]) == 6
    submits = batch_conn.stats()["submits"]
    again = run_to_end(batch(prompts=prompts), {"ti": TaskInstance(), "task_state_store": store})
    assert again == first
    assert batch_conn.stats()["submits"] == submits  # every row's job came from the store
    # Without a store (Airflow 2.11), the keys alone hand back the same jobs: submits, no new job.
    third = run_to_end(batch(prompts=prompts), {"ti": TaskInstance()})
    assert third == first
    assert batch_conn.stats()["jobs_created"] == 6


def test_the_triggers_kwargs_and_events_are_plain_json(batch_conn):
    import json

    op = batch(prompts=["koi", "heron"])
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": TaskInstance()})
    submit = deferred.value.trigger
    assert isinstance(submit, ApiframeBatchSubmitTrigger)
    assert json.loads(json.dumps(submit.serialize()[1])) == submit.serialize()[1]
    event = asyncio.run(first_event(submit))
    assert json.loads(json.dumps(event)) == event and set(event["jobs"]) == {"0", "1"}
    with pytest.raises(TaskDeferred) as waiting:
        op.after_submit({"ti": TaskInstance()}, event)
    assert isinstance(waiting.value.trigger, ApiframeBatchWaitTrigger)
    done = asyncio.run(first_event(waiting.value.trigger))
    # One small entry per row, not Job bodies.
    assert set(done["results"]["0"]) == {"status", "job_id", "images", "credit_cost"}


def test_any_model_takes_its_own_options_per_row(batch_conn):
    from airflow_provider_apiframe.operators.batch import ApiframeBatchGenerateOperator

    with pytest.raises(ApiframeValidationError) as info:
        ApiframeBatchGenerateOperator(
            task_id="batch", model="flux-1.1-pro", prompts=["a", {"prompt": "b", "width": 9000}]
        )
    assert "rows[1].fluxParams.width" in str(info.value) and "256 to 2048" in str(info.value)
    op = ApiframeBatchGenerateOperator(
        task_id="batch",
        model="flux-1.1-pro",
        image_options={"output_format": "png"},
        prompts=["a circle", {"prompt": "a square", "width": 512, "height": 256}],
        poll_interval=0.5,
    )
    ti = TaskInstance()
    results = run_to_end(op, {"ti": ti})
    assert [r["status"] for r in results] == ["COMPLETED", "COMPLETED"]
    assert all(r["images"][0].endswith(".png") for r in results)
    assert ti.xcom["image_url"] == results[0]["images"][0]


class TriggererDied(BaseException):
    """The triggerer's process ends where it stands (nothing of the trigger runs on)."""


def sent_chunks(xcoms):
    """The rows each chunk of the batch's plan sent, as the trigger recorded them, in order."""
    records = sorted(
        (key, value) for (*_, key), value in xcoms.items() if key.startswith(SENT_KEY) and key.count(".") == 2
    )
    return [sorted(map(int, {**value["jobs"], **value["settled"]})) for _, value in records]


def test_one_trigger_submits_every_chunk_and_its_successor_resends_one_at_most(
    batch_conn, task_xcoms, monkeypatch
):
    from airflow_provider_apiframe.batch import plan

    op = batch(prompts=[f"koi {i}" for i in range(7)])
    op.submit_chunk = 3
    ti = TaskInstance(task_id="batch")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    started = time.time()
    trigger, kwargs = type(deferred.value.trigger), deferred.value.trigger.serialize()[1]
    # The trigger's row holds where the plan is: bodies wait in XCom, three chunks of at most three rows.
    assert kwargs["submits"] == [] and kwargs["plan"]["rows"] == list(range(7))
    chunks = [value for (*_, key), value in task_xcoms.items() if key.startswith(PLAN_KEY)]
    assert [[entry[0] for entry in chunk] for chunk in chunks] == [[0, 1, 2], [3, 4, 5], [6]]

    record = plan.write_xcom

    async def dies_before_the_second_record(holder, key, value):
        if key.endswith(".1"):
            raise TriggererDied
        await record(holder, key, value)

    monkeypatch.setattr(plan, "write_xcom", dies_before_the_second_record)
    with pytest.raises(TriggererDied):
        asyncio.run(first_event(trigger(**kwargs)))
    assert batch_conn.stats()["submits"] == 6 and sent_chunks(task_xcoms) == [[0, 1, 2]]
    monkeypatch.setattr(plan, "write_xcom", record)
    # Another triggerer runs the same trigger: the recorded chunk is skipped, the unrecorded one replayed.
    event = asyncio.run(first_event(trigger(**kwargs)))
    assert sorted(map(int, event["jobs"])) == list(range(7))
    # The batch started when the task deferred, not when the second triggerer took over: its reads of the
    # pages go back to the first jobs.
    assert event["started_at"] == kwargs["started_at"] <= started
    assert sent_chunks(task_xcoms) == [[0, 1, 2], [3, 4, 5], [6]]
    stats = batch_conn.stats()
    assert (stats["jobs_created"], stats["submits"]) == (7, 10)  # the chunk sent twice was paid once
    results = run_to_end(op, {"ti": ti}, first=("after_submit", event))
    assert [len(row["images"]) for row in results] == [1] * 7


def test_a_missing_chunk_record_is_sent_again_from_there_not_shifted_onto_later_rows(batch_conn, task_xcoms):
    from airflow_provider_apiframe.batch.plan import SubmitPlan

    op = batch(prompts=[f"koi {i}" for i in range(7)])
    op.submit_chunk = 3
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": TaskInstance(task_id="batch")})
    trigger, kwargs = type(deferred.value.trigger), deferred.value.trigger.serialize()[1]
    first = asyncio.run(first_event(trigger(**kwargs)))
    # The middle chunk's record is lost while the count of recorded chunks still says three.
    del task_xcoms[xcom_place(SubmitPlan.read(kwargs["plan"]), f"{SENT_KEY}.{kwargs['plan']['id']}.1")]
    again = asyncio.run(first_event(trigger(**kwargs)))
    # Every row keeps its own job: the chunks from the lost record on were sent again, and their keys
    # gave back the jobs already paid for.
    assert again["jobs"] == first["jobs"] and sorted(map(int, again["jobs"])) == list(range(7))
    assert sent_chunks(task_xcoms) == [[0, 1, 2], [3, 4, 5], [6]]
    stats = batch_conn.stats()
    assert (stats["jobs_created"], stats["submits"]) == (7, 11)


def test_failed_rows_of_earlier_chunks_are_resent_while_the_batch_still_submits(
    batch_conn, task_xcoms, monkeypatch
):
    from airflow_provider_apiframe.batch import plan

    op = batch(prompts=["koi [fail]", *(f"koi {i}" for i in range(1, 7))], max_resubmissions=1)
    op.submit_chunk = 3
    triggers = []
    record = plan.write_xcom

    async def then_time_passes(holder, key, value):
        await record(holder, key, value)
        batch_conn.advance_clock(5)  # the jobs already sent end before the next chunk

    monkeypatch.setattr(plan, "write_xcom", then_time_passes)
    with pytest.raises(
        ApiframeBatchFailedError, match=r"1 of 7 rows have no image .*: row 0: .* ended FAILED"
    ):
        run_to_end(op, {"ti": TaskInstance(task_id="batch")}, lambda *trigger: triggers.append(trigger))
    # Row 0's job failed in the first chunk: the second sent it again, and the third gave it up (its
    # second job failed too) beside the batch's last row.
    assert sent_chunks(task_xcoms) == [[0, 1, 2], [0, 3, 4, 5], [0, 6]]
    assert [trigger.__name__ for trigger, _ in triggers] == [
        "ApiframeBatchSubmitTrigger",
        "ApiframeBatchWaitTrigger",
    ]
    # Trigger rows carry job ids only, so the wait reads the finished ones again.
    wait = triggers[1][1]
    assert sorted(map(int, wait["jobs"])) == list(range(1, 7)) and list(wait["settled"]) == ["0"]
    stats = batch_conn.stats()
    # Seven rows, row 0 twice (given up after its second job failed).
    assert stats["jobs_created"] == 8
    assert stats["list_requests"] <= 4


def test_a_submission_whose_api_stays_down_for_retry_timeout_stops_instead_of_waiting_out_each_row(
    apiframe_emulator_factory, monkeypatch
):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), job_duration=0.5, credits=1000)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url, retry_timeout=0.5))
    op = batch(prompts=[f"koi {i}" for i in range(40)], accept_partial=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": TaskInstance(task_id="batch")})
    # The submit trigger has no deadline of its own: a batch sharing the key's budget takes its time.
    assert deferred.value.timeout is None
    server.add_faults({"method": "POST", "path": "/v2/images/generate", "action": "status", "status": 503,
                       "times": 10_000})  # fmt: skip
    started = time.time()
    event = asyncio.run(first_event(deferred.value.trigger))
    # Down for the whole of retry_timeout on the first rows: the rest are not sent, not tried in turn.
    assert time.time() - started < 10
    errors = [event["settled"][str(row)]["message"] for row in range(40)]
    tried = [message for message in errors if message.startswith("Submit failed")]
    assert 1 <= len(tried) <= 8 and len(errors) - len(tried) >= 32
    assert all(message.startswith(("Submit failed", "Not submitted")) for message in errors)
    assert "503" in tried[0]
    assert server.stats()["jobs_created"] == 0


def test_a_submit_trigger_stored_with_its_rows_still_sends_them(batch_conn):
    op = batch(prompts=["koi", "heron", "moss"])
    ti = TaskInstance(task_id="batch")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    kwargs = deferred.value.trigger.serialize()[1]
    [chunk] = [value for (*_, key), value in TASK_XCOMS.items() if key.startswith(PLAN_KEY)]
    # As the previous release deferred: the rows' submits in the kwargs, no plan.
    stored = {**kwargs, "submits": chunk, "plan": None}
    event = asyncio.run(first_event(ApiframeBatchSubmitTrigger(**stored)))
    assert sorted(event["jobs"]) == ["0", "1", "2"] and event["ended"] == {}
    results = run_to_end(op, {"ti": ti}, first=("after_submit", event))
    assert [row["status"] for row in results] == ["COMPLETED"] * 3
    assert batch_conn.stats()["jobs_created"] == 3


def test_a_submission_whose_plan_is_gone_settles_its_rows_and_pays_nothing(batch_conn, task_xcoms):
    op = batch(prompts=["koi", "heron"], accept_partial=True)
    ti = TaskInstance(task_id="batch")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    task_xcoms.clear()  # the task's XComs were cleared while it was deferred
    event = asyncio.run(first_event(deferred.value.trigger))
    results = run_to_end(op, {"ti": ti}, first=("after_submit", event))
    assert [row["status"] for row in results] == ["ERROR", "ERROR"]
    assert "Chunk 0 of the batch's submits is not in XCom" in results[0]["error"]
    assert batch_conn.stats()["submits"] == 0


def test_trigger_rows_stay_under_a_megabyte_at_ten_thousand_long_prompts(
    apiframe_emulator_factory, monkeypatch, task_xcoms
):
    server = apiframe_emulator_factory(api_keys=(TEST_KEY,), credits=100_000)
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(server.url))
    prompts = [
        (f"{i:05d} " + "a koi under lotus leaves, ink and watercolour. " * 11)[:500] for i in range(10_000)
    ]
    assert {len(prompt) for prompt in prompts} == {500}
    op = batch(prompts=prompts)
    context = {"ti": TaskInstance(task_id="batch")}
    with pytest.raises(TaskDeferred) as submit:
        op.execute(context)
    # The bodies (5 MB of prompts) wait in XCom, 500 rows a value; the trigger says where.
    chunks = [value for (*_, key), value in task_xcoms.items() if key.startswith(PLAN_KEY)]
    assert [len(chunk) for chunk in chunks] == [op.submit_chunk] * 20
    assert max(len(json.dumps(chunk).encode()) for chunk in chunks) < 400_000
    # Later triggers carry every row's job: a submission of the last 500 rows (whose earlier jobs
    # failed), and the wait.
    jobs = {str(index): f"3f0c2a4e-0000-4000-8000-{index:012d}" for index in range(10_000)}
    failed = {
        str(index): {"status": "error", "reason": "failed", "job_id": jobs[str(index)], "message": "no"}
        for index in range(9_500, 10_000)
    }
    with pytest.raises(TaskDeferred) as again:
        op.after_submit(context, {"jobs": jobs, "settled": {}, "started_at": 0.0, "ended": failed})
    with pytest.raises(TaskDeferred) as wait:
        op.after_submit(context, {"jobs": jobs, "settled": {}, "started_at": 0.0, "ended": {}})
    triggers = [deferred.trigger for deferred in (submit.value, again.value, wait.value)]
    sizes = [len(json.dumps(trigger.serialize()[1]).encode()) for trigger in triggers]
    assert max(sizes) < 1_000_000, sizes
    assert len(again.value.trigger.serialize()[1]["plan"]["rows"]) == 500
    assert server.stats()["submits"] == 0
