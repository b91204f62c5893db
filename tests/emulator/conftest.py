"""Helpers for the emulator's tests: a fake clock and a thin HTTP client bound to one server.

The fixtures ``apiframe_emulator`` and ``apiframe_emulator_factory`` come from the project's
pytest plugin, loaded by the top-level conftest.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

IMAGEN = "imagen-4"


class FakeClock:
    """A clock that moves only when told to; starts at a fixed, recognisable moment."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Api:
    """Requests against one emulator, with its key unless told otherwise."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.url = server.url
        self.key = server.api_key

    def headers(self, headers: dict[str, str] | None = None, idempotency_key: str | None = None) -> dict:
        """The server's key unless ``headers`` replaces it (``{}`` sends no key at all)."""
        chosen = {"X-API-Key": self.key} if headers is None else dict(headers)
        if idempotency_key is not None:
            chosen["Idempotency-Key"] = idempotency_key
        return chosen

    def submit(
        self,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        **fields,
    ) -> requests.Response:
        """POST a submit body; without ``body``, a valid imagen-4 request updated with ``fields``."""
        if body is None:
            body = {"prompt": "koi in a pond", "model": IMAGEN, **fields}
        return requests.post(
            f"{self.url}/v2/images/generate",
            json=body,
            headers=self.headers(headers, idempotency_key),
            timeout=10,
        )

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=self.headers(headers), timeout=10)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.get(f"/v2/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def new_job(self, **fields: Any) -> str:
        response = self.submit(**fields)
        assert response.status_code == 202, response.text
        return response.json()["jobId"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(apiframe_emulator_factory, clock):
    """An emulator on the fake clock with 10 s jobs, so time only moves when a test says so."""
    return apiframe_emulator_factory(clock=clock, job_duration=10.0)


@pytest.fixture
def api(server) -> Api:
    return Api(server)
