"""What a job costs at most, read from GET /v2/models with the job's own options."""

from __future__ import annotations

import pytest

from airflow_provider_apiframe.catalogue.model_specs import get_model
from airflow_provider_apiframe.catalogue.operations import IMAGE_GENERATION, VIDEO_GENERATION, JobRequest
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.spending.prices import ListedPrice, job_price

GPT = get_model("gpt-image-1.5")
KLING_VIDEO = get_model("kling-2.1", VIDEO_GENERATION.path)
HAPPYHORSE = get_model("happyhorse-1.0", VIDEO_GENERATION.path)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"costMin": 10, "costMax": 100, "pricingMode": "per-output"}, ListedPrice(10, 100, "per-output")),
        ({"costMin": 8.0, "costMax": 8}, ListedPrice(8, 8, "")),
        # One bound alone is all that is known.
        ({"costMax": 9, "pricingMode": "flat"}, ListedPrice(9, 9, "flat")),
        ({"costMin": 3, "costMax": None}, ListedPrice(3, 3, "")),
        ({"costMin": 10, "costMax": 5}, None),
        ({"costMin": -1, "costMax": -1}, None),
        ({"costMin": True, "costMax": "7"}, None),
        ({"costMin": 2.5, "costMax": 2.5}, None),
        ("7", None),
        ({}, None),
    ],
)
def test_a_listed_price_is_read_defensively(entry, expected):
    assert ListedPrice.parse(entry) == expected


def test_a_count_option_multiplies_a_per_output_price():
    listed = ListedPrice(10, 100, "per-output")
    assert job_price(GPT, listed, {}) == 10
    assert job_price(GPT, listed, {"number_of_images": 3}) == 30
    assert job_price(GPT, listed, {"number_of_images": 10}) == 100


def test_a_per_second_price_counts_the_clip_s_seconds():
    # kling-2.1 makes 5 or 10 s clips; 40-80 credits is 8 a second.
    listed = ListedPrice(40, 80, "per-second")
    assert job_price(KLING_VIDEO, listed, {}) == 40  # the shortest, as the API makes when not told
    assert job_price(KLING_VIDEO, listed, {"duration": 10}) == 80
    # happyhorse makes 3-15 s: 7 s at 5 a second.
    assert job_price(HAPPYHORSE, ListedPrice(15, 75, "per-second"), {"duration": 7}) == 35


@pytest.mark.parametrize(
    ("model", "listed", "options"),
    [
        (GPT, ListedPrice(10, 100, "per-token"), {"number_of_images": 1}),  # a mode not understood
        (GPT, ListedPrice(10, 100, "per-output"), {"number_of_images": "3"}),  # a count not readable
        (KLING_VIDEO, ListedPrice(40, 80, "per-second"), {"duration": -5}),
        (get_model("flux-1.1-pro"), ListedPrice(4, 40, "per-second"), {}),  # no duration to count
    ],
)
def test_what_cannot_be_read_is_held_to_the_highest_price(model, listed, options):
    assert job_price(model, listed, options) == listed.cost_max


def test_a_published_price_wins_and_no_price_is_none():
    assert job_price(get_model("imagen-4"), ListedPrice(1, 1, "flat"), {}) == 7
    assert job_price(GPT, None, {}) is None


@pytest.mark.parametrize(
    ("operation", "model", "prompt", "options"),
    [
        (IMAGE_GENERATION, "imagen-4", "koi", {}),
        (IMAGE_GENERATION, "gpt-image-1.5", "koi", {"number_of_images": 3}),
        (IMAGE_GENERATION, "kling-image", "koi", {"n": 2}),
        (IMAGE_GENERATION, "qwen-image", "koi", {}),
        (IMAGE_GENERATION, "flux-1.1-pro-ultra", "koi", {}),
        (VIDEO_GENERATION, "kling-2.1", "koi swimming", {"duration": 10}),
        (VIDEO_GENERATION, "happyhorse-1.0", "koi swimming", {"duration": 7}),
        (VIDEO_GENERATION, "seedance-2", "koi swimming", {}),
    ],
)
def test_the_price_read_is_what_the_job_is_charged(apiframe_conn, operation, model, prompt, options):
    hook = ApiframeHook()
    request = JobRequest(model, options, prompt)
    [price] = hook.job_prices(operation, [request])
    job_id = hook.submit_job(operation, request)
    assert hook.get_job(job_id).credit_cost == price
