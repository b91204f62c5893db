"""The connection's credit_limit: what one key may spend per day or per DAG run, across tasks."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_apiframe.catalogue.operations import IMAGE_GENERATION, JobRequest
from airflow_provider_apiframe.exceptions import ApiframeJobFailedError, ApiframeSpendLimitError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator
from tests.conftest import connection_uri
from tests.operators.test_imagen import TaskInstance


@pytest.fixture
def limited(emulator, monkeypatch):
    """The default connection with a limit of 20 credits a day (imagen-4 costs 7)."""

    def limit(credits: int = 20, per: str = "day") -> None:
        uri = connection_uri(emulator.url, max_retries=3, credit_limit=credits, credit_limit_per=per)
        monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", uri)

    limit()
    return limit


def generate(task_id: str, prompt: str = "koi", run_id: str = "manual__1", **kwargs):
    """Run one imagen task until it defers (or fails); its task instance."""
    ti = TaskInstance(task_id=task_id, run_id=run_id)
    op = ImagenGenerateOperator(task_id=task_id, prompt=prompt, **kwargs)
    with pytest.raises(TaskDeferred):
        op.execute({"ti": ti})
    return ti


def test_a_submit_past_the_limit_is_refused_naming_the_limit_and_who_spent(emulator, limited):
    generate("first")
    generate("second", "carp")
    with pytest.raises(ApiframeSpendLimitError) as info:
        generate("third", "pike")
    message = str(info.value)
    assert "credit_limit of connection apiframe_default is 20 credits per day" in message
    assert "14 are spent or held by running jobs (dag.first 7, dag.second 7)" in message
    assert "this imagen-4 job by dag.third would cost up to 7 credits" in message
    assert (info.value.spent, info.value.credits_required) == (14, 7)
    assert info.value.spent_by == {"dag.first": 7, "dag.second": 7}
    assert emulator.stats()["jobs_created"] == 2


def test_a_retry_is_not_counted_again_and_a_failed_job_is_given_back(emulator, limited):
    limited(14)
    generate("first")
    generate("first")  # the same task instance again: the job it already has
    op = ImagenGenerateOperator(task_id="failing", prompt="koi [fail]", deferrable=False)
    with pytest.raises(ApiframeJobFailedError):
        op.execute({"ti": TaskInstance(task_id="failing")})
    generate("third", "pike")  # the failed job's 7 credits came back
    assert emulator.stats()["jobs_created"] == 3


def test_a_per_run_limit_starts_again_in_every_run(emulator, limited):
    limited(7, "dag_run")
    generate("first", run_id="run_1")
    with pytest.raises(ApiframeSpendLimitError, match="7 credits per DAG run"):
        generate("second", "carp", run_id="run_1")
    generate("second", "carp", run_id="run_2")


def test_a_batch_past_the_limit_submits_nothing(emulator, limited):
    generate("first")
    op = ImagenBatchGenerateOperator(task_id="batch", prompts=["a", "b"])
    refusal = r"2 jobs of imagen-4 by dag\.batch would cost up to 14"
    with pytest.raises(ApiframeSpendLimitError, match=refusal):
        op.execute({"ti": TaskInstance(task_id="batch")})
    assert emulator.stats()["submits"] == 1


def test_code_of_its_own_that_submits_in_a_loop_is_stopped_too(emulator, limited):
    hook = ApiframeHook()
    submitted = 0
    with pytest.raises(ApiframeSpendLimitError, match="by code outside a task"):
        for _ in range(10):
            hook.submit_job(IMAGE_GENERATION, JobRequest("imagen-4", {}, "koi"))
            submitted += 1
    assert submitted == 2 and emulator.stats()["jobs_created"] == 2


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"credit_limit": -5}, "credit_limit"),
        ({"credit_limit": "lots"}, "credit_limit"),
        ({"credit_limit_per": "week"}, "credit_limit_per"),
    ],
)
def test_a_bad_limit_is_a_configuration_error(emulator, monkeypatch, extra, needle):
    from airflow_provider_apiframe.exceptions import ApiframeConfigurationError

    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, **extra))
    with pytest.raises(ApiframeConfigurationError, match=needle):
        ApiframeHook().settings  # noqa: B018


def test_a_lora_training_counts_its_two_credits_and_a_failed_one_gives_them_back(emulator, limited, tmp_path):
    from tests.operators.test_lora import faces, run_training, train

    limited(3)
    images = faces(tmp_path / "faces")
    with pytest.raises(ApiframeJobFailedError):
        run_training(train(images, name="Ana [fail]", task_id="failing"), TaskInstance(task_id="failing"))
    lora = run_training(train(images), TaskInstance(task_id="train"))  # the failed one's 2 came back
    assert lora["status"] == "READY"
    refusal = r"3 credits per day .* 2 are spent .*\(dag\.train 2\).* LoRA training job by dag\.other"
    with pytest.raises(ApiframeSpendLimitError, match=refusal):
        train(images, task_id="other").execute({"ti": TaskInstance(task_id="other")})
    assert emulator.stats()["loras_created"] == 2


@pytest.mark.parametrize("limit", [float("inf"), float("nan"), 2.5, True])
def test_a_limit_a_json_extra_cannot_hold_as_credits_is_a_configuration_error(limit):
    from airflow_provider_apiframe.exceptions import ApiframeConfigurationError
    from airflow_provider_apiframe.wire.transport import ClientSettings

    # Python's JSON reads Infinity and NaN: an extra may hold them.
    with pytest.raises(ApiframeConfigurationError, match="credit_limit must be a whole number"):
        ClientSettings.from_connection_extra("https://api.apiframe.ai", "afk_x", {"credit_limit": limit})
