"""Provider metadata, found by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_apiframe.connection import UI_FIELD_BEHAVIOUR

INTEGRATION = "apiframe"


def get_provider_info() -> dict[str, Any]:
    from airflow_provider_apiframe import __version__

    return {
        "package-name": "airflow-provider-apiframe",
        "name": "apiframe",
        "description": "Generate images with apiframe's API (Google Imagen 4 and more) from Airflow.",
        "versions": [__version__],
        "integrations": [{"integration-name": INTEGRATION, "external-doc-url": "https://apiframe.ai"}],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_apiframe.operators.imagen"],
            }
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_apiframe.hooks.apiframe"]}
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_apiframe.triggers.apiframe"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "apiframe",
                "hook-class-name": "airflow_provider_apiframe.hooks.apiframe.ApiframeHook",
                "hook-name": "apiframe",
                "ui-field-behaviour": {
                    key.replace("_", "-"): value for key, value in UI_FIELD_BEHAVIOUR.items()
                },
            }
        ],
    }
