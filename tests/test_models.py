from __future__ import annotations

import pytest

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.models import MODELS, PROMPT_MAX_LENGTH, get_model

IMAGEN_4 = get_model("imagen-4")


def test_request_body_for_imagen_4_matches_the_contract():
    body = IMAGEN_4.request_body("koi", {"aspect_ratio": "16:9", "output_format": "png", "image_size": "2K"})
    assert body == {
        "prompt": "koi",
        "model": "imagen-4",
        "imagenParams": {"aspect_ratio": "16:9", "output_format": "png", "image_size": "2K"},
    }


def test_empty_params_block_is_left_out():
    assert IMAGEN_4.request_body("koi", {}) == {"prompt": "koi", "model": "imagen-4"}


@pytest.mark.parametrize(
    ("name", "value", "path"),
    [
        ("aspect_ratio", "2:1", "imagenParams.aspect_ratio"),
        ("output_format", "webp", "imagenParams.output_format"),
        ("image_size", "4K", "imagenParams.image_size"),
        ("aspect_ratio", 16, "imagenParams.aspect_ratio"),
    ],
)
def test_out_of_range_param_names_field_and_allowed_values(name, value, path):
    with pytest.raises(ApiframeValidationError) as info:
        IMAGEN_4.request_body("koi", {name: value})
    assert list(info.value.details) == [path]
    allowed = IMAGEN_4.param(name).allowed
    assert all(choice in str(info.value) for choice in allowed)
    assert repr(value) in str(info.value)


def test_unknown_param_key_is_refused():
    with pytest.raises(ApiframeValidationError) as info:
        IMAGEN_4.request_body("koi", {"seed": "1"})
    assert "imagenParams.seed" in info.value.details


@pytest.mark.parametrize(
    ("prompt", "needle"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("x" * (PROMPT_MAX_LENGTH + 1), "2000"),
        (None, "string"),
        (42, "int"),
    ],
)
def test_bad_prompts_are_refused(prompt, needle):
    with pytest.raises(ApiframeValidationError) as info:
        IMAGEN_4.request_body(prompt, {})
    assert needle in str(info.value)
    assert "prompt" in info.value.details


def test_longest_allowed_prompt_passes():
    assert IMAGEN_4.request_body("x" * PROMPT_MAX_LENGTH, {})["prompt"] == "x" * PROMPT_MAX_LENGTH


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ApiframeValidationError) as info:
        get_model("imagen-5")
    assert "imagen-4-ultra" in str(info.value)


def test_validation_errors_are_value_errors_that_fail_without_retry():
    from airflow.providers.common.compat.sdk import AirflowFailException

    with pytest.raises(ValueError) as info:
        get_model("nope")
    assert isinstance(info.value, AirflowFailException)


@pytest.mark.parametrize(
    ("ratio", "size", "expected"),
    [
        ("1:1", "1K", (1024, 1024)),
        ("16:9", "2K", (2816, 1536)),
        ("9:16", "1K", (768, 1408)),
        ("3:4", "2K", (1792, 2560)),
    ],
)
def test_image_dimensions(ratio, size, expected):
    assert IMAGEN_4.image_dimensions({"aspect_ratio": ratio, "image_size": size}) == expected


def test_defaults_give_1k_square():
    assert IMAGEN_4.image_dimensions({}) == (1024, 1024)


def test_five_imagen_models_share_one_params_block():
    imagen = [m for m in MODELS.values() if m.params_key == "imagenParams"]
    assert {m.id for m in imagen} == {
        "imagen-3",
        "imagen-3-fast",
        "imagen-4",
        "imagen-4-ultra",
        "imagen-4-fast",
    }
    assert len({m.params for m in imagen}) == 1
    assert IMAGEN_4.credit_cost == 7
