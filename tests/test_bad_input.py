"""
The bad-input matrix: each mistake a user can make gives a typed error that says what to fix, before any
credit is spent, never a bare KeyError or TypeError from deep inside.
"""

from __future__ import annotations

import pytest

from airflow_provider_apiframe.exceptions import (
    ApiframeConfigurationError,
    ApiframeError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator
from tests.conftest import connection_uri
from tests.operators.test_imagen import TaskInstance

PARSE_TIME = [
    ({"prompt": ""}, ApiframeValidationError, "prompt: must not be empty"),
    ({"prompt": " \t\n"}, ApiframeValidationError, "prompt: must not be empty"),
    ({"prompt": "x" * 2001}, ApiframeValidationError, "at most 2000 characters, got 2001"),
    ({"prompt": None}, ApiframeValidationError, "must be a string, got NoneType"),
    ({"prompt": ["a", "b"]}, ApiframeValidationError, "must be a string, got list"),
    ({"aspect_ratio": "21:9"}, ApiframeValidationError, "allowed: one of 1:1, 9:16, 16:9, 3:4, 4:3"),
    ({"aspect_ratio": 1.5}, ApiframeValidationError, "got 1.5"),
    ({"output_format": "gif"}, ApiframeValidationError, "allowed: one of jpg, png"),
    ({"image_size": "1k"}, ApiframeValidationError, "allowed: one of 1K, 2K"),
    ({"model": "imagen-9"}, ApiframeValidationError, "known models are"),
    ({"model": "dall-e-3"}, ApiframeValidationError, "Imagen models are imagen-3, imagen-3-fast, imagen-4"),
    ({"poll_interval": "fast"}, ValueError, "poll_interval must be a positive number"),
    ({"timeout": -1}, ValueError, "timeout must be a positive number"),
]


@pytest.mark.parametrize(("kwargs", "error", "says"), PARSE_TIME)
def test_bad_literal_arguments_fail_at_parse_time(kwargs, error, says):
    with pytest.raises(error) as info:
        ImagenGenerateOperator(task_id="t", **{"prompt": "koi", **kwargs})
    assert says in str(info.value)
    assert not isinstance(info.value, KeyError | TypeError)


def test_bad_rendered_prompt_fails_before_any_request(apiframe_conn):
    op = ImagenGenerateOperator(task_id="t", prompt="{{ ti.xcom_pull('prompts') }}")
    op.prompt = None  # an upstream task returned nothing
    with pytest.raises(ApiframeValidationError, match="must be a string"):
        op.execute({"ti": TaskInstance()})
    assert apiframe_conn.stats()["submits"] == 0


def run(conn_id="apiframe_default"):
    return ImagenGenerateOperator(
        task_id="t", prompt="koi", apiframe_conn_id=conn_id, deferrable=False
    ).execute({"ti": TaskInstance()})


def test_unknown_connection_id_names_it(apiframe_conn):
    with pytest.raises(ApiframeConfigurationError, match="'no_such_connection' does not exist: create"):
        run("no_such_connection")
    assert apiframe_conn.stats()["submits"] == 0


def test_connection_without_a_key(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, key=None))
    with pytest.raises(ApiframeConfigurationError, match="has no API key"):
        run()
    assert emulator.stats()["submits"] == 0


def test_connection_with_a_malformed_extra(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(emulator.url, timeout="soon"))
    with pytest.raises(ApiframeConfigurationError, match="timeout"):
        run()


def test_host_that_does_not_answer(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT", "apiframe://:afk_x@127.0.0.1:9?max_retries=1&timeout=1"
    )
    with pytest.raises(ApiframeTransientError, match=r"127\.0\.0\.1:9 failed"):
        run()


def test_api_answering_garbage_json(apiframe_conn):
    apiframe_conn.add_faults(
        {"method": "POST", "path": "/v2/images/generate", "action": "malformed", "status": 200, "times": 10}
    )
    with pytest.raises(ApiframeUnexpectedResponseError, match="not JSON"):
        run()


def test_api_answering_an_html_error_page(apiframe_conn):
    apiframe_conn.add_faults(
        {"method": "POST", "path": "/v2/images/generate", "action": "malformed", "status": 502, "times": 10}
    )
    with pytest.raises(ApiframeTransientError) as info:
        run()
    assert "HTTP 502" in str(info.value)


@pytest.mark.parametrize(
    "body", [{"jobId": 42}, {"jobId": 10**5000}, {"status": "QUEUED"}, ["not", "an", "object"]]
)
def test_api_answering_unexpected_json(body):
    from airflow_provider_apiframe.wire.jobs import parse_submitted

    with pytest.raises(ApiframeError, match=r"job id|not a JSON object"):
        parse_submitted(body)
