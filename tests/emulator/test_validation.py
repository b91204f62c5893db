"""400 answers of the submit endpoint: details keyed by JSON path, and nothing created or charged."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_apiframe.emulator.validation import validate_submission
from airflow_provider_apiframe.emulator.zod import require_supported
from tests.emulator.conftest import (
    CATALOGUE,
    MODEL_IDS,
    VALID_URL,
    VALID_UUID,
    block_of,
    full_body,
    minimal_body,
    with_ready_lora,
)

BASE = {"prompt": "koi in a pond", "model": "imagen-4"}


def assert_rejected(api, body, details: dict[str, str]) -> None:
    """400 'Validation failed' whose details hold exactly these paths, each message containing the text."""
    response = api.submit(body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] == "Validation failed"
    assert set(answer["details"]) == set(details), answer
    for path, text in details.items():
        messages = answer["details"][path]
        assert messages and all(isinstance(message, str) for message in messages)
        assert any(text in message for message in messages), (path, messages)
    stats = api.server.stats()
    assert stats["jobs_created"] == 0 and stats["credits_charged"] == 0 and stats["submits"] == 1


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({**BASE, "imagenParams": {"aspect_ratio": "2:1"}}, {"imagenParams.aspect_ratio": "'16:9'"}),
        ({**BASE, "imagenParams": {"output_format": "webp"}}, {"imagenParams.output_format": "webp"}),
        ({**BASE, "imagenParams": {"image_size": "4K"}}, {"imagenParams.image_size": "4K"}),
        ({**BASE, "imagenParams": {"seed": 3}}, {"imagenParams.seed": "Unrecognized key"}),
        ({**BASE, "imagenParams": "16:9"}, {"imagenParams": "Expected object"}),
        ({**BASE, "foo": 1}, {"foo": "Unrecognized key"}),
        # Another model's block is as foreign to imagen as any unknown key.
        ({**BASE, "fluxParams": {}}, {"fluxParams": "Unrecognized key"}),
        ({**BASE, "prompt": ""}, {"prompt": "at least 1"}),
        ({**BASE, "prompt": "x" * 2001}, {"prompt": "at most 2000"}),
        ({**BASE, "prompt": 42}, {"prompt": "Expected string, received number"}),
        ({"model": "imagen-4"}, {"prompt": "Required"}),
        ({"prompt": "koi"}, {"model": "Required"}),
        ({**BASE, "model": "imagen-9"}, {"model": "imagen-9"}),
        ({**BASE, "webhookEvents": []}, {"webhookEvents": "at least 1"}),
        ({**BASE, "webhookEvents": ["completed", "started"]}, {"webhookEvents.1": "started"}),
        ({**BASE, "webhookEvents": "completed"}, {"webhookEvents": "Expected array"}),
        ({**BASE, "webhookUrl": "/relative/hook"}, {"webhookUrl": "Invalid url"}),
        ({**BASE, "webhookUrl": "ftp://example.org/hook"}, {"webhookUrl": "Invalid url"}),
    ],
)
def test_invalid_bodies_are_400_with_json_path_details(api, body, details):
    assert_rejected(api, body, details)


def test_every_problem_is_reported_at_once(api):
    body = {"prompt": "", "model": "imagen-4", "extra": True, "imagenParams": {"aspect_ratio": "1:2", "n": 2}}
    assert_rejected(
        api,
        body,
        {
            "prompt": "at least 1",
            "extra": "Unrecognized key",
            "imagenParams.aspect_ratio": "1:2",
            "imagenParams.n": "Unrecognized key",
        },
    )


@pytest.mark.parametrize(
    "payload", [b"{not json", b"[1, 2]", b'"koi"', b'{"prompt": "koi", "model": "imagen-4", "x": NaN}']
)
def test_body_that_is_not_a_json_object_is_400(api, payload):
    response = requests.post(
        f"{api.url}/v2/images/generate",
        data=payload,
        headers={**api.headers(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)
    assert api.server.stats()["jobs_created"] == 0


def test_longest_prompt_whitespace_prompt_and_full_body_are_accepted(api):
    assert api.submit(prompt="x" * 2000).status_code == 202
    assert api.submit(prompt="   ").status_code == 202  # the vendor does not trim
    full = {
        **BASE,
        "imagenParams": {"aspect_ratio": "9:16", "output_format": "png", "image_size": "2K"},
        "webhookUrl": "https://example.org/hook",
        "webhookEvents": ["progress", "completed", "failed"],
    }
    assert api.submit(full).status_code == 202


@pytest.mark.parametrize(
    "model", ["imagen-3", "imagen-3-fast", "imagen-4", "imagen-4-ultra", "imagen-4-fast"]
)
def test_every_imagen_model_shares_the_params_block(api, model):
    response = api.submit(prompt="koi", model=model, imagenParams={"aspect_ratio": "4:3"})
    assert response.status_code == 202, response.text


def test_defaults_fill_the_params_the_body_left_out():
    submission = validate_submission({**BASE, "imagenParams": {"image_size": "2K"}})
    assert submission.params == {"aspect_ratio": "1:1", "output_format": "jpg", "image_size": "2K"}
    assert submission.body == {**BASE, "imagenParams": {"image_size": "2K"}}


# --- every model of the catalogue -------------------------------------------------------------------


def test_the_catalogue_has_every_model_of_the_spec():
    assert len(MODEL_IDS) == 51 and len(CATALOGUE["blocks"]) == 20


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_model_accepts_its_block_with_the_required_keys(api, model_id):
    body = with_ready_lora(api, minimal_body(model_id))  # flux-lora takes a READY LoRA of the team
    response = api.submit(body)
    assert response.status_code == 202, response.text
    job = api.job(response.json()["jobId"])
    assert (job["model"], job["input"]) == (model_id, body)


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_model_accepts_a_value_for_every_key_of_its_block(api, model_id):
    response = api.submit(with_ready_lora(api, full_body(model_id)))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "model_id", sorted(m for m, e in CATALOGUE["models"].items() if not e["block_required"])
)
def test_a_model_whose_block_is_optional_accepts_a_body_without_it(api, model_id):
    assert api.submit({"prompt": "koi", "model": model_id}).status_code == 202


@pytest.mark.parametrize(
    ("model_id", "params", "details"),
    [
        # The spec makes these two models' block mandatory, each for a key of its own.
        ("flux-lora", None, {"fluxLoraParams": ["Required"]}),
        ("flux-lora", {"num_outputs": 2}, {"fluxLoraParams.loraId": ["Required"]}),
        ("ideogram-character", None, {"ideogramParams": ["Required"]}),
        ("ideogram-character", {}, {"ideogramParams.character_reference_image": ["Required"]}),
        # type
        ("flux-1.1-pro", {"guidance": "high"}, {"fluxParams.guidance": ["Expected number, received string"]}),
        ("flux-1.1-pro", {"guidance": True}, {"fluxParams.guidance": ["Expected number, received boolean"]}),
        ("flux-1.1-pro", {"width": True}, {"fluxParams.width": ["Expected number, received boolean"]}),
        ("flux-1.1-pro", {"go_fast": 1}, {"fluxParams.go_fast": ["Expected boolean, received number"]}),
        ("flux-1.1-pro", {"seed": "7"}, {"fluxParams.seed": ["Expected number, received string"]}),
        ("flux-1.1-pro", {"steps": 2.5}, {"fluxParams.steps": ["Expected integer, received float"]}),
        (
            "grok-imagine-image",
            {"image": 3},
            {"grokImagineParams.image": ["Expected string, received number"]},
        ),
        (
            "gpt-image-2",
            {"input_images": "x"},
            {"gptImage2Params.input_images": ["Expected array, received string"]},
        ),
        ("qwen-image", {"seed": None}, {"qwenImageParams.seed": ["Expected number, received null"]}),
        # minimum / maximum, whole and fractional
        (
            "flux-1.1-pro",
            {"width": 255},
            {"fluxParams.width": ["Number must be greater than or equal to 256"]},
        ),
        (
            "flux-1.1-pro",
            {"height": 2049},
            {"fluxParams.height": ["Number must be less than or equal to 2048"]},
        ),
        (
            "flux-1.1-pro",
            {"guidance": 1.4},
            {"fluxParams.guidance": ["Number must be greater than or equal to 1.5"]},
        ),
        (
            "flux-lora",
            {"loraId": VALID_UUID, "lora_strength": 1.6},
            {"fluxLoraParams.lora_strength": ["Number must be less than or equal to 1.5"]},
        ),
        (
            "wan-image-2.6",
            {"seed": -1},
            {"wanImageParams.seed": ["Number must be greater than or equal to 0"]},
        ),
        (
            "gpt-image-1.5",
            {"number_of_images": 11},
            {"gptImageParams.number_of_images": ["Number must be less than or equal to 10"]},
        ),
        # A fractional value below an integer's minimum breaks both checks, as Zod reports them.
        (
            "kling-image",
            {"n": 0.5},
            {
                "klingImageParams.n": [
                    "Expected integer, received float",
                    "Number must be greater than or equal to 1",
                ]
            },
        ),
        # enum
        (
            "gpt-image-1.5",
            {"output_format": "jpg"},
            {
                "gptImageParams.output_format": [
                    "Invalid enum value. Expected 'png' | 'jpeg' | 'webp', received 'jpg'"
                ]
            },
        ),
        (
            "kling-image",
            {"model_name": 2},
            {
                "klingImageParams.model_name": [
                    "Expected 'kling-v1' | 'kling-v1-5' | 'kling-v2', received number"
                ]
            },
        ),
        # format
        ("grok-imagine-image", {"image": "not a url"}, {"grokImagineParams.image": ["Invalid url"]}),
        (
            "qwen-image",
            {"image_url": "ftp://example.org/a.png"},
            {"qwenImageParams.image_url": ["Invalid url"]},
        ),
        ("flux-lora", {"loraId": "lora-7"}, {"fluxLoraParams.loraId": ["Invalid uuid"]}),
        # pattern (an ECMAScript one: $ is the very end, \d an ASCII digit)
        ("midjourney", {"aspect_ratio": "wide"}, {"midjourneyParams.aspect_ratio": ["Invalid"]}),
        ("midjourney", {"aspect_ratio": "16:9\n"}, {"midjourneyParams.aspect_ratio": ["Invalid"]}),
        (
            "midjourney",
            {"aspect_ratio": "\u0661\u0666:\u0669"},
            {"midjourneyParams.aspect_ratio": ["Invalid"]},
        ),
        # arrays: their length and each item at its index
        (
            "flux-1.1-pro",
            {"input_images": [VALID_URL] * 11},
            {"fluxParams.input_images": ["Array must contain at most 10 element(s)"]},
        ),
        (
            "flux-1.1-pro",
            {"input_images": [VALID_URL, "nope"]},
            {"fluxParams.input_images.1": ["Invalid url"]},
        ),
        (
            "seedream-4",
            {"image_input": [VALID_URL, 7]},
            {"seedreamParams.image_input.1": ["Expected string, received number"]},
        ),
        # string length
        (
            "qwen-image-2",
            {"negative_prompt": "x" * 501},
            {"qwenImage2Params.negative_prompt": ["String must contain at most 500 character(s)"]},
        ),
        # keys of another model's block
        ("nano-banana", {"seed": 1}, {"nanoBananaParams.seed": ["Unrecognized key"]}),
    ],
)
def test_each_kind_of_invalid_value_gets_zods_message_at_its_path(api, model_id, params, details):
    body = {"prompt": "koi", "model": model_id}
    if params is not None:
        body[block_of(model_id)["key"]] = params
    response = api.submit(body)
    assert response.status_code == 400
    assert response.json() == {"error": "Validation failed", "details": details}
    assert api.server.stats()["jobs_created"] == 0


@pytest.mark.parametrize(
    ("model_id", "params"),
    [
        ("gpt-image-2", {"input_images": None}),  # ["array", "null"]
        ("flux-1.1-pro", {"width": 256, "height": 2048, "guidance": 1.5, "steps": 50.0}),
        ("flux-1.1-pro", {"input_images": [VALID_URL] * 10, "aspect_ratio": "21:9"}),
        ("flux-lora", {"loraId": VALID_UUID.upper()}),
        ("qwen-image-2", {"negative_prompt": "x" * 500}),
        ("nano-banana", {"aspect_ratio": "anything the model takes", "image_input": []}),
    ],
)
def test_values_on_the_limits_are_accepted(api, model_id, params):
    body = with_ready_lora(api, {"prompt": "koi", "model": model_id, block_of(model_id)["key"]: dict(params)})
    response = api.submit(body)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("model_id", "limit"), [("wan-image-2.7", 5000), ("wan-image-2.7-pro", 5000), ("flux-2-pro", 2000)]
)
def test_the_prompt_limit_is_the_models_own(api, model_id, limit):
    assert CATALOGUE["models"][model_id]["prompt_max_length"] == limit
    assert_rejected(
        api, {"model": model_id, "prompt": "x" * (limit + 1)}, {"prompt": f"at most {limit} character"}
    )
    assert api.submit({"model": model_id, "prompt": "x" * limit}).status_code == 202


def test_the_prompt_is_counted_in_utf16_units_as_javascript_does(api):
    assert api.submit(prompt="🐟" * 1000).status_code == 202  # 2000 units
    response = api.submit(prompt="🐟" * 1001)
    assert response.json()["details"] == {"prompt": ["String must contain at most 2000 character(s)"]}


def test_a_schema_keyword_the_emulator_cannot_check_stops_the_catalogue_loading():
    require_supported({"type": "array", "items": {"type": "string", "format": "uri"}, "maxItems": 3}, "ok")
    for schema in (
        {"type": "number", "multipleOf": 2},
        {"type": "string", "format": "email"},
        {"type": "tuple"},
        {"type": "array", "items": {"type": "string", "const": "x"}},
    ):
        with pytest.raises(ValueError, match="not supported"):
            require_supported(schema, "someParams.key")


@pytest.mark.parametrize(
    ("schema", "value", "messages"),
    [
        # A union of literals: one "Invalid input", whatever was sent.
        (
            {"anyOf": [{"enum": [5], "type": "number"}, {"enum": [10], "type": "number"}]},
            7,
            ["Invalid input"],
        ),
        (
            {"anyOf": [{"enum": [5], "type": "number"}, {"enum": [10], "type": "number"}]},
            "5",
            ["Invalid input"],
        ),
        ({"anyOf": [{"enum": [5], "type": "number"}, {"enum": [10], "type": "number"}]}, 10, []),
        # An option that took the type and failed a later check answers for the union (Zod's "dirty").
        (
            {"anyOf": [{"type": "number", "minimum": 5}, {"type": "string"}]},
            3,
            ["greater than or equal to 5"],
        ),
        ({"anyOf": [{"type": "number", "minimum": 5}, {"type": "string"}]}, "x", []),
        ({"type": "number", "exclusiveMinimum": 0}, 0, ["Number must be greater than 0"]),
        ({"type": "number", "exclusiveMaximum": 1.5}, 1.5, ["Number must be less than 1.5"]),
        ({"type": "number", "exclusiveMinimum": 0}, 0.001, []),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            {"b": 1},
            ["Required", "Unrecognized key"],
        ),
    ],
)
def test_unions_exclusive_bounds_and_objects_get_zods_messages(schema, value, messages):
    from airflow_provider_apiframe.emulator.zod import problems

    require_supported(schema, "x")
    found = [message for _, message in problems(schema, value, "x")]
    assert len(found) == len(messages)
    assert all(text in message for text, message in zip(messages, found, strict=True)), found
