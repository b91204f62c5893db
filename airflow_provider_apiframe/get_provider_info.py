"""Provider metadata, found by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_apiframe.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

INTEGRATION = "apiframe"


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata: its operators, hooks, triggers, plugin, config and connection type."""
    from airflow_provider_apiframe import __version__

    return {
        "package-name": "airflow-provider-apiframe",
        "name": "apiframe",
        "description": "Generate images from Airflow with any of apiframe's image models (Flux, Imagen...).",
        "versions": [__version__],
        "integrations": [{"integration-name": INTEGRATION, "external-doc-url": "https://apiframe.ai"}],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_apiframe.operators.generate",
                    "airflow_provider_apiframe.operators.imagen",
                    "airflow_provider_apiframe.operators.batch",
                    "airflow_provider_apiframe.operators.store",
                    "airflow_provider_apiframe.operators.image_edits",
                    "airflow_provider_apiframe.operators.actions",
                    "airflow_provider_apiframe.operators.media",
                    "airflow_provider_apiframe.operators.lora",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_apiframe.sensors.apiframe"],
            }
        ],
        "task-decorators": [
            {
                "name": "apiframe_image",
                "class-name": "airflow_provider_apiframe.decorators.apiframe_image.apiframe_image_task",
            }
        ],
        "extra-links": [
            "airflow_provider_apiframe.links.ApiframeImageLink",
            "airflow_provider_apiframe.links.ApiframeOutputLink",
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_apiframe.hooks.apiframe"]}
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_apiframe.triggers.apiframe",
                    "airflow_provider_apiframe.triggers.batch",
                    "airflow_provider_apiframe.triggers.lora",
                ],
            }
        ],
        # The API server's plugin: the app serving stored images for review (under /apiframe), and a
        # middleware fixing Airflow 3.3.2's connection list, which cannot test an apiframe connection saved
        # without a port (apache/airflow#73298), until Airflow has the fix.
        "plugins": [
            {
                "name": "apiframe_api_server",
                "plugin-class": "airflow_provider_apiframe.plugins.api_server.ApiframeApiServerPlugin",
            }
        ],
        # `airflow config list` shows it; read on the API server, where it decides what may be served.
        "config": {
            "apiframe": {
                "description": "The apiframe provider's API-server plugin.",
                "options": {
                    "review_roots": {
                        "description": (
                            "Absolute local folders, comma-separated, under which the API server serves the "
                            "images of stored data sets to reviewers (GET /apiframe/images): only images "
                            "their part's metadata.jsonl lists, with the digest the URL names. Empty: "
                            "nothing is served. Data sets on S3, GCS or Azure are reviewed through "
                            "presigned URLs instead and need nothing here."
                        ),
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "/data/apiframe/review/staging",
                        "default": "",
                    }
                },
            }
        },
        "connection-types": [
            {
                "connection-type": "apiframe",
                "hook-class-name": "airflow_provider_apiframe.hooks.apiframe.ApiframeHook",
                "hook-name": "apiframe",
                "ui-field-behaviour": {
                    key.replace("_", "-"): value for key, value in UI_FIELD_BEHAVIOUR.items()
                },
                # Airflow 3.2+ draws these typed fields without importing the hook; Airflow 2 asks the
                # hook's get_connection_form_widgets() for the same ones.
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
