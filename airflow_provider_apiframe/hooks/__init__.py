"""The hook: the Airflow connection and the clients made from it."""
