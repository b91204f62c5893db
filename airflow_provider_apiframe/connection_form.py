"""
How the ``apiframe`` connection type looks in the Airflow UI; read by the hook and the provider info.

The connection uses the host (the API URL, which may carry a scheme and a port) and the password (the key);
port, schema and login are hidden. The client settings that ``ClientSettings`` reads from the extra are
offered as typed fields: Airflow 3 draws them from ``CONN_FIELDS`` (the provider info's ``conn-fields``),
Airflow 2's Flask form from ``connection_form_widgets()``. Both store each under its plain name in the
extra (``{"timeout": 30}``), where a raw JSON extra or a URI's query puts it too.
"""

from __future__ import annotations

from typing import Any

DEFAULT_API_URL = "https://api.apiframe.ai"

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["port", "schema", "login"],
    "relabeling": {"host": "API URL", "password": "API Key"},
    "placeholders": {
        "host": f"{DEFAULT_API_URL} (the default when empty)",
        "password": "afk_...",
        "extra": '{"verify": true, "proxies": {"https": "http://proxy.internal:3128"}}',
    },
}

# name -> (label, JSON type, description). Empty means the default ClientSettings states (and a test
# holds these texts to): no default is written into the extra, so a connection follows the provider's.
_SETTINGS: dict[str, tuple[str, str, str]] = {
    "timeout": (
        "Request timeout (s)",
        "number",
        "Seconds to wait for each answer. Empty: 60.",
    ),
    "retry_timeout": (
        "Retry for (s)",
        "number",
        "How long one request rides out transient failures (5xx, 429, dropped connections, timeouts) "
        "before it gives up. Empty: 300.",
    ),
    "max_retries": (
        "Max retries",
        "integer",
        "An optional cap on the resends within that time. Empty: no cap.",
    ),
    "rate_limit_per_minute": (
        "Rate limit per minute",
        "integer",
        "The key's request budget; every process using this host and key is paced to it. 0 turns "
        "pacing off. Empty: 500.",
    ),
    "rate_limit_redis_conn_id": (
        "Rate limit Redis connection",
        "string",
        "The id of a Redis connection that shares the key's pace and its credit limit among all "
        "workers and triggerers (needs the provider's redis extra). Empty: each process paces itself.",
    ),
    "credit_limit": (
        "Credit limit",
        "integer",
        "The most this key may spend per day (UTC) or per DAG run; a submit past it fails naming the "
        "limit and who spent it. Kept in the Redis above, else per process. Empty: no limit.",
    ),
    "credit_limit_per": (
        "Credit limit per",
        "string",
        "What the credit limit counts: day or dag_run. Empty: day.",
    ),
}

_MINIMUM = {"retry_timeout": 0, "max_retries": 0, "rate_limit_per_minute": 0, "credit_limit": 0}

CONN_FIELDS: dict[str, dict[str, Any]] = {
    name: {
        "label": label,
        "description": description,
        "schema": {
            "type": [kind, "null"],
            **({"exclusiveMinimum": 0} if name == "timeout" else {}),
            **({"minimum": _MINIMUM[name]} if name in _MINIMUM else {}),
        },
    }
    for name, (label, kind, description) in _SETTINGS.items()
}
"""The typed fields in Airflow 3's ``conn-fields`` format (provider info), keyed by their extra key."""

# Airflow 2's form stores a field's text as typed; these keep what ClientSettings could not read out.
_PATTERNS = {"number": r"^\s*\d+(\.\d*)?\s*$", "integer": r"^\s*\d+\s*$"}


def connection_form_widgets() -> dict[str, Any]:
    """
    Build the same fields for Airflow 2's Flask form, which the webserver asks the hook for.

    Text fields checked to hold a number, not IntegerField: Airflow 2 fills a field from the extra only
    when the value is truthy, so an integer ``0`` (pacing off, no retries) would come back empty and the
    next save would drop it; a stored ``"0"`` survives. wtforms and Flask-AppBuilder are imported here:
    only the webserver calls this.
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField
    from wtforms.validators import Optional, Regexp

    widgets: dict[str, Any] = {}
    for name, (label, kind, description) in _SETTINGS.items():
        validators: list[Any] = [Optional()]
        if kind in _PATTERNS:
            validators.append(Regexp(_PATTERNS[kind], message=f"{label}: a {kind} >= 0, or empty"))
        widgets[name] = StringField(
            lazy_gettext(label), widget=BS3TextFieldWidget(), validators=validators, description=description
        )
    return widgets
