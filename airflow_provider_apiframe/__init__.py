"""Apache Airflow provider for apiframe's image-generation API."""

from __future__ import annotations

__version__ = "0.2.0"
