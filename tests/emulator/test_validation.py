"""400 answers of the submit endpoint: details keyed by JSON path, and nothing created or charged."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_apiframe.emulator.validation import validate_submission

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


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'"koi"'])
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
