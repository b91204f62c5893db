"""max_credits: what a task may spend, checked before anything is sent."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_apiframe.exceptions import ApiframeSpendLimitError
from airflow_provider_apiframe.operators.actions import ApiframeMidjourneyActionOperator
from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.image_edits import ApiframeImageUpscaleOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator
from tests.operators.test_imagen import TaskInstance


def test_a_job_dearer_than_the_limit_is_refused_before_any_submit(apiframe_conn):
    op = ImagenGenerateOperator(task_id="generate", prompt="koi", max_credits=6)  # imagen-4 costs 7
    with pytest.raises(ApiframeSpendLimitError) as info:
        op.execute({"ti": TaskInstance()})
    assert (info.value.limit, info.value.credits_required) == (6, 7)
    assert "could cost 7 credits, more than max_credits=6" in str(info.value)
    assert apiframe_conn.stats()["submits"] == 0
    with pytest.raises(TaskDeferred):
        ImagenGenerateOperator(task_id="generate", prompt="koi", max_credits=7).execute(
            {"ti": TaskInstance()}
        )
    assert apiframe_conn.stats()["jobs_created"] == 1


def test_a_price_read_from_the_model_list_is_held_to_the_limit(apiframe_conn):
    # The catalogue publishes no price for the upscaler: GET /v2/models gives its highest.
    op = ApiframeImageUpscaleOperator(
        task_id="upscale",
        model="topaz-image-upscale",
        options={"image": "https://example.org/a.png"},
        max_credits=1,
    )
    with pytest.raises(ApiframeSpendLimitError) as info:
        op.execute({"ti": TaskInstance(task_id="upscale")})
    assert info.value.credits_required > 1 and apiframe_conn.stats()["submits"] == 0


def test_a_batch_over_its_limit_is_refused_whole(apiframe_conn):
    op = ImagenBatchGenerateOperator(task_id="batch", prompts=["a", "b", "c"], max_credits=20)
    with pytest.raises(ApiframeSpendLimitError) as info:
        op.execute({"ti": TaskInstance(task_id="batch")})
    assert (info.value.credits_required, info.value.jobs) == (21, 3)
    assert apiframe_conn.stats()["submits"] == 0


def test_an_action_whose_price_is_not_published_cannot_be_held_to_a_limit(apiframe_conn):
    op = ApiframeMidjourneyActionOperator(
        task_id="u2",
        action="upsample",
        index=2,
        parent_job_id="3f0c2a4e-0000-4000-8000-000000000001",
        max_credits=100,
    )
    with pytest.raises(ApiframeSpendLimitError, match="cannot be checked"):
        op.execute({"ti": TaskInstance(task_id="u2")})
    assert apiframe_conn.stats()["submits"] == 0


@pytest.mark.parametrize("bad", [-1, 2.5, True, "10"])
def test_a_limit_must_be_a_whole_number_of_credits(bad):
    with pytest.raises(ValueError, match="max_credits"):
        ImagenGenerateOperator(task_id="generate", prompt="koi", max_credits=bad)
