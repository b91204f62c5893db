"""What a batch keeps in the task state store (Airflow 3.3+) across its chunks and tries."""

from __future__ import annotations

import json

from airflow_provider_apiframe.batch.state import ROWS_PER_BLOCK, STATE_KEY, record_jobs, recorded_jobs


class CountingStore(dict):
    """``context["task_state_store"]``'s get and set, counting the writes."""

    writes = 0

    def set(self, key, value):
        self.writes += 1
        self[key] = json.loads(json.dumps(value))  # stored as JSON, as Airflow stores it


def test_ten_thousand_rows_are_kept_in_blocks_under_airflows_advised_value_size():
    rows = 10_000
    digests = [f"{index:016x}" for index in range(rows)]
    jobs = {index: f"3f0c2a4e-0000-4000-8000-{index:012d}" for index in range(rows)}
    store = CountingStore()
    context = {"task_state_store": store}
    record_jobs(context, jobs, digests)
    assert store.writes == rows // ROWS_PER_BLOCK
    # Airflow warns past [state_store] max_value_storage_bytes, 65,535 by default.
    assert max(len(json.dumps(value)) for value in store.values()) < 65_535
    assert recorded_jobs(context, rows) == {digests[index]: job for index, job in jobs.items()}
    # A chunk records the batch's every job again: only the blocks it changed are written.
    record_jobs(context, {**jobs, 7_321: "a-new-job-for-row-7321"}, digests)
    assert store.writes == rows // ROWS_PER_BLOCK + 1


def test_jobs_recorded_under_the_bare_key_before_blocks_are_still_found():
    store = CountingStore({STATE_KEY: {"00aa": "job-a", "00bb": 7}})
    record_jobs({"task_state_store": store}, {3: "job-c"}, ["0", "1", "2", "00cc"])
    assert recorded_jobs({"task_state_store": store}, 4) == {"00aa": "job-a", "00cc": "job-c"}
    assert recorded_jobs({}, 4) == {}
