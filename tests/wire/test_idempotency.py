from __future__ import annotations

from airflow_provider_apiframe.wire.idempotency import successor_key, task_instance_key

BASE = dict(
    dag_id="d",
    run_id="r",
    task_id="t",
    map_index=-1,
    model="imagen-4",
    prompt="koi",
    params={"aspect_ratio": "1:1", "image_size": "1K"},
)


def test_same_task_instance_and_request_give_same_key():
    reordered = dict(BASE, params={"image_size": "1K", "aspect_ratio": "1:1"})
    assert task_instance_key(**BASE) == task_instance_key(**reordered)


def test_every_identity_field_changes_the_key():
    keys = {task_instance_key(**BASE)}
    for field, value in [
        ("dag_id", "d2"),
        ("run_id", "r2"),
        ("task_id", "t2"),
        ("map_index", 0),
        ("model", "imagen-4-fast"),
        ("prompt", "koi!"),
        ("params", {"aspect_ratio": "16:9", "image_size": "1K"}),
    ]:
        keys.add(task_instance_key(**dict(BASE, **{field: value})))
    assert len(keys) == 8


def test_keys_fit_the_header_limit_even_for_long_prompts():
    key = task_instance_key(**dict(BASE, prompt="x" * 2000, run_id="manual__" + "y" * 250))
    assert len(key) <= 255
    assert key.isascii()


def test_successor_key_is_deterministic_and_new():
    key = task_instance_key(**BASE)
    assert successor_key(key, "job-1") == successor_key(key, "job-1")
    assert len({key, successor_key(key, "job-1"), successor_key(key, "job-2")}) == 3
