"""The connection form's typed settings: what both Airflow UIs store, and ClientSettings reading it."""

from __future__ import annotations

import json

import pytest

from airflow_provider_apiframe.connection_form import CONN_FIELDS
from airflow_provider_apiframe.exceptions import ApiframeConfigurationError
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.wire.transport import ClientSettings
from tests.conftest import TEST_KEY

URL = "http://127.0.0.1:1"
# What Airflow 3.3's form saves when only "Max retries" was filled in: every field, the others null.
AIRFLOW_3_FORM = {
    "timeout": None,
    "retry_timeout": None,
    "max_retries": 2,
    "rate_limit_per_minute": None,
    "rate_limit_redis_conn_id": None,
}


def settings_of(extra):
    s = ClientSettings.from_connection_extra(URL, TEST_KEY, extra)
    return s.timeout, s.retry_timeout, s.max_retries, s.rate_limit_per_minute, s.rate_limit_redis_conn_id


def test_the_typed_fields_are_the_settings_client_settings_reads():
    assert list(CONN_FIELDS) == list(ClientSettings.EXTRA_KEYS)


def test_each_field_states_the_default_an_empty_field_gets():
    for name in ("timeout", "retry_timeout", "rate_limit_per_minute"):
        default = getattr(ClientSettings, name)
        assert CONN_FIELDS[name]["description"].endswith(f"Empty: {default:g}."), name
    assert settings_of({}) == (60.0, 300.0, None, 500, None)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(AIRFLOW_3_FORM, (60.0, 300.0, 2, 500, None), id="airflow-3-form-nulls"),
        pytest.param(
            {"timeout": 12.5, "retry_timeout": 0, "max_retries": 0, "rate_limit_per_minute": 0},
            (12.5, 0.0, 0, 0, None),
            id="airflow-3-form-numbers-and-zeros",
        ),
        pytest.param(
            dict(timeout="12.5", retry_timeout=" ", max_retries="0", rate_limit_per_minute="0"),
            (12.5, 300.0, 0, 0, None),
            id="airflow-2-form-text",
        ),
        pytest.param(
            {"rate_limit_redis_conn_id": "redis_default", "verify": False},
            (60.0, 300.0, None, 500, "redis_default"),
            id="raw-json",
        ),
    ],
)
def test_client_settings_read_what_the_forms_store(extra, expected):
    assert settings_of(extra) == expected


def test_a_value_that_is_no_number_is_still_refused_by_name():
    with pytest.raises(ApiframeConfigurationError, match="timeout"):
        settings_of({"timeout": "soon"})
    with pytest.raises(ApiframeConfigurationError, match="max_retries"):
        settings_of({"max_retries": "2.5"})


def test_a_connection_saved_by_the_form_works_end_to_end(emulator, monkeypatch):
    """Nulls in the extra reach neither the settings nor the session's headers."""
    port = int(emulator.url.rsplit(":", 1)[1])
    connection = {"conn_type": "apiframe", "host": "127.0.0.1", "port": port, "password": TEST_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", json.dumps({**connection, "extra": AIRFLOW_3_FORM}))
    hook = ApiframeHook()
    ok, message = hook.test_connection()
    assert ok, message
    assert hook.transport.settings.max_retries == 2 and hook.transport.settings.timeout == 60.0
    assert not set(ClientSettings.EXTRA_KEYS) & {name.lower() for name in hook.transport.session.headers}


def test_airflow_2_form_fields_check_numbers_and_keep_a_zero():
    pytest.importorskip("flask_appbuilder", reason="Airflow 2's Flask form; Airflow 3 draws conn-fields")
    from flask import Flask
    from flask_babel import Babel
    from werkzeug.datastructures import MultiDict
    from wtforms import Form

    widgets = ApiframeHook.get_connection_form_widgets()
    assert list(widgets) == list(ClientSettings.EXTRA_KEYS)
    form_class = type("ApiframeForm", (Form,), widgets)
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        good = form_class(
            formdata=MultiDict({"timeout": "12.5", "retry_timeout": "", "max_retries": "0",
                                "rate_limit_per_minute": "0", "rate_limit_redis_conn_id": "redis_default"})
        )  # fmt: skip
        assert good.validate(), good.errors
        # Kept as typed: Airflow 2 refills a field from the extra only when the value is truthy ("0" is).
        assert good.data["rate_limit_per_minute"] == "0"
        bad = form_class(formdata=MultiDict({"timeout": "soon", "max_retries": "2.5", "retry_timeout": "-1"}))
        assert not bad.validate()
        assert set(bad.errors) == {"timeout", "max_retries", "retry_timeout"}
