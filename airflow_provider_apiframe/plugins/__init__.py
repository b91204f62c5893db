"""Airflow plugins the provider registers (the API server's)."""
