"""How the ``apiframe`` connection type looks in the Airflow UI; read by the hook and the provider info."""

from __future__ import annotations

from typing import Any

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "login"],
    "relabeling": {"host": "API URL", "password": "API Key"},
    "placeholders": {
        "host": "https://api.apiframe.ai (the default when empty)",
        "password": "afk_...",
        "extra": '{"timeout": 60, "max_retries": 5, "rate_limit_per_minute": 500}',
    },
}
