from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest

from airflow_provider_apiframe.catalogue.model_specs import (
    MAX_SAFE_INTEGER,
    PROMPT_MAX_LENGTH,
    get_model,
    model_ids,
)
from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.utils.ids import is_uuid

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
    choices = IMAGEN_4.param(name).choices
    assert choices and all(choice in str(info.value) for choice in choices)
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


def test_five_imagen_models_share_one_params_block():
    imagen = [get_model(m) for m in model_ids() if get_model(m).params_key == "imagenParams"]
    assert {m.id for m in imagen} == {
        "imagen-3",
        "imagen-3-fast",
        "imagen-4",
        "imagen-4-ultra",
        "imagen-4-fast",
    }
    assert len({m.block_id for m in imagen}) == 1
    assert IMAGEN_4.credit_cost == 7


def test_every_model_of_the_spec_is_known_with_its_own_block():
    assert len(model_ids()) == 51
    families = {get_model(m).params_key for m in model_ids()}
    assert {
        "fluxParams",
        "ideogramParams",
        "midjourneyParams",
        "seedreamParams",
        "nanoBananaParams",
    } <= families


def test_imagen_keeps_its_documented_defaults():
    assert {p.name: p.default for p in IMAGEN_4.params} == {
        "aspect_ratio": "1:1",
        "image_size": "1K",
        "output_format": "jpg",
    }


FLUX = get_model("flux-1.1-pro")


def test_flux_body_matches_the_vendor_smoke_test():
    body = FLUX.request_body("a green circle", {"width": 512, "height": 512, "output_format": "jpg"})
    assert body["fluxParams"] == {"width": 512, "height": 512, "output_format": "jpg"}


@pytest.mark.parametrize(
    ("params", "path", "needles"),
    [
        ({"width": 4096}, "fluxParams.width", ["4096", "an integer from 256 to 2048"]),
        ({"width": 512.5}, "fluxParams.width", ["512.5", "an integer"]),
        ({"width": True}, "fluxParams.width", ["True", "an integer"]),
        ({"guidance": 0.5}, "fluxParams.guidance", ["a number from 1.5 to 10"]),
        ({"go_fast": "yes"}, "fluxParams.go_fast", ["'yes'", "true or false"]),
        ({"aspect_ratio": "wide"}, "fluxParams.aspect_ratio", ["'wide'", "matching"]),
        ({"image_prompt": "not a url"}, "fluxParams.image_prompt", ["http(s) URL"]),
        ({"input_images": ["https://x.test/a.png"] * 11}, "fluxParams.input_images", ["at most 10"]),
        ({"input_images": ["https://x.test/a.png", "ftp://x"]}, "fluxParams.input_images[1]", ["'ftp://x'"]),
        ({"output_format": "gif"}, "fluxParams.output_format", ["one of jpg, png, webp"]),
        ({"seeed": 1}, "fluxParams.seeed", ["not accepted by flux-1.1-pro", "seed"]),
        # Values JSON cannot carry, or that only look like numbers.
        ({"guidance": float("nan")}, "fluxParams.guidance", ["got nan", "not a finite number", "1.5 to 10"]),
        ({"guidance": float("inf")}, "fluxParams.guidance", ["got inf", "not a finite number"]),
        ({"guidance": Decimal("2.5")}, "fluxParams.guidance", ["Decimal('2.5')", "of type Decimal"]),
        ({"guidance": Decimal("NaN")}, "fluxParams.guidance", ["Decimal('NaN')", "of type Decimal"]),
        ({"guidance": Fraction(5, 2)}, "fluxParams.guidance", ["Fraction(5, 2)", "int or float only"]),
        ({"guidance": False}, "fluxParams.guidance", ["got False", "a number from 1.5 to 10"]),
        ({"seed": 10**5000}, "fluxParams.seed", ["too large to show", str(MAX_SAFE_INTEGER)]),
        ({"seed": 2**53}, "fluxParams.seed", [str(2**53), "an integer"]),
        ({"input_images": ["https://x.test/a.png", float("nan")]}, "fluxParams.input_images[1]", ["nan"]),
        ({"input_images": [{1: "a"}]}, "fluxParams.input_images[0][1]", ["names must be strings, got int"]),
        ({"image_prompt": object()}, "fluxParams.image_prompt", ["of type object", "http(s) URL"]),
    ],
)
def test_bad_params_name_the_field_and_what_is_allowed(params, path, needles):
    with pytest.raises(ApiframeValidationError) as info:
        FLUX.request_body("koi", params)
    assert list(info.value.details) == [path]
    assert all(needle in str(info.value) for needle in needles), str(info.value)


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ApiframeValidationError) as info:
        FLUX.request_body("koi", {"width": 1, "height": 99999, "raw": "no"})
    assert set(info.value.details) == {"fluxParams.width", "fluxParams.height", "fluxParams.raw"}


def test_required_inputs_are_asked_for():
    with pytest.raises(ApiframeValidationError) as info:
        get_model("flux-lora").request_body("koi", {"lora_strength": 1})
    assert "fluxLoraParams.loraId" in info.value.details
    with pytest.raises(ApiframeValidationError) as info:
        get_model("ideogram-character").request_body("koi", {})
    assert "character_reference_image" in str(info.value)
    body = get_model("ideogram-character").request_body(
        "koi", {"character_reference_image": "https://x.test/face.png"}
    )
    assert body["ideogramParams"] == {"character_reference_image": "https://x.test/face.png"}


def test_image_inputs_are_marked():
    assert set(FLUX.image_inputs) == {"image_prompt", "input_images"}
    assert IMAGEN_4.image_inputs == ()


def test_prompt_length_is_per_model():
    long = "x" * 4000
    assert get_model("wan-image-2.7").request_body(long, {})["prompt"] == long
    with pytest.raises(ApiframeValidationError):
        FLUX.request_body(long, {})


def test_option_names_of_mixed_types_are_a_typed_error_naming_each():
    with pytest.raises(ApiframeValidationError) as info:
        FLUX.request_body("koi", {1: "x", "a": "y", "width": 512})
    assert set(info.value.details) == {"fluxParams.1", "fluxParams.a"}
    assert "names must be strings, got int" in str(info.value)
    with pytest.raises(ApiframeValidationError) as info:
        FLUX.check_params({1: "x"}, only={1: "x"})
    assert list(info.value.details) == ["fluxParams.1"]


def test_every_accepted_block_is_strict_json():
    params = {
        "guidance": 2.5,
        "width": 512,
        "seed": MAX_SAFE_INTEGER,
        "input_images": ["https://x.test/a.png"],
    }
    body = FLUX.request_body("koi", params)
    assert json.loads(json.dumps(body, allow_nan=False)) == body


def test_an_unknown_model_of_any_type_is_a_typed_error():
    with pytest.raises(ApiframeValidationError, match="too large to show"):
        get_model(10**5000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3f0c2a4e-0000-4000-8000-000000000001", True),
        ("3F0C2A4E-0000-4000-8000-000000000001", True),
        ("3f0c2a4e-0000-4000-8000-000000000001\n", False),
        ("3f0c2a4e-0000-4000-8000-000000000001x", False),
        (" 3f0c2a4e-0000-4000-8000-000000000001", False),
        ("3f0c2a4e00004000800000000000000001", False),
    ],
)
def test_a_job_id_is_a_uuid_only_as_a_whole(value, expected):
    assert is_uuid(value) is expected


def test_a_block_checked_before_is_judged_alike_and_one_not_plain_json_on_its_own():
    for _ in range(2):  # the second check answers from what the first found
        with pytest.raises(ApiframeValidationError, match="aspect_ratio"):
            IMAGEN_4.request_body("koi", {"aspect_ratio": "2:1"})
        body = IMAGEN_4.request_body("koi", {"aspect_ratio": "16:9"})
        assert body["imagenParams"] == {"aspect_ratio": "16:9"}
    # Text alike, values not: an integer name, a tuple and NaN are each refused, whatever came before.
    IMAGEN_4.request_body("koi", {"output_format": "png"})
    with pytest.raises(ApiframeValidationError, match="names must be strings"):
        IMAGEN_4.request_body("koi", {1: "png"})
    for unlike in (("png",), float("nan"), 10**5000):
        with pytest.raises(ApiframeValidationError, match="output_format"):
            IMAGEN_4.request_body("koi", {"output_format": unlike})
