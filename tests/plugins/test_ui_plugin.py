"""
The API-server middleware that works around Airflow 3.3.2's port-0 Test Connection bug (apache/airflow#73298).

The middleware runs in front of a stand-in route that echoes the body it got, with the metadata-database
lookup replaced by a dict: only the list's test of a stored apiframe connection without a port changes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from airflow_provider_apiframe.plugins import api_server as api_server_plugin
from airflow_provider_apiframe.plugins.api_server import StoredEndpoint

URL = "http://127.0.0.1:8765"
STORED = {
    "apiframe_url": StoredEndpoint("apiframe", URL, None),
    "apiframe_with_port": StoredEndpoint("apiframe", "127.0.0.1", 8765),
    "http_url": StoredEndpoint("http", URL, None),
}


@pytest.fixture
def looked_up(monkeypatch) -> list[str]:
    """The metadata-database lookup, replaced by ``STORED``: the connection ids it was asked about."""
    asked: list[str] = []

    def stored_endpoint(connection_id: str) -> StoredEndpoint | None:
        asked.append(connection_id)
        return STORED.get(connection_id)

    monkeypatch.setattr(api_server_plugin, "stored_endpoint", stored_endpoint)
    return asked


@pytest.fixture
def client(looked_up):
    pytest.importorskip("starlette", reason="Airflow 2.11 has no API server")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"body": body.decode(), "received": len(body), **request.headers})

    app = Starlette(routes=[Route("/api/v2/connections/{action}", echo, methods=["POST"])])
    app.add_middleware(api_server_plugin.ConnectionTestPortMiddleware)
    with TestClient(app) as test_client:
        test_client.looked_up = looked_up
        yield test_client


def list_test_body(connection_id: str, host: str = URL, **fields) -> dict:
    """What Airflow 3.3.2's list sends: the stored fields, the masked key and ``Number(port)``."""
    return {"connection_id": connection_id, "conn_type": "apiframe", "host": host, "port": 0,
            "password": "***", **fields}  # fmt: skip


def sent(client, body: dict | bytes, path: str = "/api/v2/connections/test") -> dict | str:
    """The body the route got, parsed when it is JSON; its Content-Length must still be right."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.post(path, content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    echoed = answer.json()
    assert int(echoed["content-length"]) == echoed["received"]
    return echoed["body"] if isinstance(body, bytes) else json.loads(echoed["body"])


def test_the_port_of_an_apiframe_connection_without_a_stored_port_becomes_null(client):
    body = list_test_body("apiframe_url")
    assert sent(client, body) == {**body, "port": None}
    assert client.looked_up == ["apiframe_url"]


def test_the_stored_connection_decides_the_type_not_the_body(client):
    body = list_test_body("http_url")  # the body says apiframe, the stored connection is http
    assert sent(client, body) == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(list_test_body("apiframe_with_port", host="127.0.0.1"), id="stored-port"),
        pytest.param(list_test_body("apiframe_url", host="https://elsewhere.example"), id="changed-host"),
        pytest.param(list_test_body("apiframe_missing"), id="not-stored"),
        pytest.param(list_test_body("apiframe_url", port=8765), id="real-port"),
        pytest.param(list_test_body("apiframe_url", port=False), id="port-false"),
    ],
)
def test_other_requests_pass_unchanged(client, body):
    assert sent(client, body) == body


def test_airflow_still_rejects_what_passes_unchanged(client):
    """Airflow's own check sees the stored port or the other host, and answers 400 as before."""
    from airflow.api_fastapi.core_api.routes.public.connections import _same_endpoint

    stored_port = sent(client, list_test_body("apiframe_with_port", host="127.0.0.1"))
    assert not _same_endpoint(stored_port["port"], STORED["apiframe_with_port"].port)
    other_host = sent(client, list_test_body("apiframe_url", host="https://elsewhere.example"))
    assert not _same_endpoint(other_host["host"], STORED["apiframe_url"].host)
    fixed = sent(client, list_test_body("apiframe_url"))
    assert _same_endpoint(fixed["port"], None) and _same_endpoint(fixed["host"], URL)


def test_only_the_test_route_is_read_and_the_database_only_for_port_0(client):
    body = list_test_body("apiframe_url")
    assert sent(client, body, path="/api/v2/connections/enqueue-test") == body
    assert sent(client, list_test_body("apiframe_url", port=None)) == {**body, "port": None}
    assert sent(client, b"not json") == "not json"  # Airflow's validation answers it, as before
    assert client.looked_up == []


def test_the_plugin_is_one_airflow_accepts_with_the_middleware():
    from airflow.plugins_manager import ensure_plugins_loaded, is_valid_plugin

    ensure_plugins_loaded()  # Airflow 2.11's is_valid_plugin() needs the loaded list to compare with
    plugin = api_server_plugin.ApiframeApiServerPlugin
    assert is_valid_plugin(plugin)
    [middleware] = plugin.fastapi_root_middlewares
    assert middleware["middleware"] is api_server_plugin.ConnectionTestPortMiddleware


def test_importing_the_plugin_loads_no_web_framework():
    probe = (
        "import sys, airflow.providers.common.compat.sdk; before = set(sys.modules); "
        "import airflow_provider_apiframe.plugins.api_server; "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "('starlette', 'fastapi', 'anyio', 'sqlalchemy', 'requests', 'aiohttp')))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def call_in_chunks(chunks: list[bytes]) -> tuple[list[bytes], int]:
    """
    POST ``chunks`` to the test route through the middleware as an ASGI server would, one message each.

    Returns the chunks the route received, and how many the middleware had read when it called the route.
    """
    pulled = 0
    route_saw: list[bytes] = []
    pulled_when_called: list[int] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    async def route(scope, receive, send) -> None:
        pulled_when_called.append(pulled)
        while True:
            message = await receive()
            route_saw.append(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: dict) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/api/v2/connections/test",
             "headers": [(b"content-length", str(sum(map(len, chunks))).encode())]}  # fmt: skip
    asyncio.run(api_server_plugin.ConnectionTestPortMiddleware(route)(scope, receive, send))
    [called_at] = pulled_when_called
    return route_saw, called_at


@pytest.mark.parametrize(
    ("size", "chunk"), [(1 << 20, 16 << 10), (100 << 10, 1 << 10)], ids=["1MiB-in-16KiB", "100KiB-in-1KiB"]
)
def test_a_large_body_streams_to_the_route_untouched_without_being_read_first(looked_up, size, chunk):
    body = json.dumps(list_test_body("apiframe_url", extra="x" * size)).encode()
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    route_saw, called_at = call_in_chunks(chunks)
    assert route_saw == chunks  # every chunk as sent: none joined, rewritten or lost
    # Read up to the limit, then handed on: the rest went to the route straight from the server.
    assert called_at * chunk <= api_server_plugin.BODY_READ_MAX + chunk
    assert looked_up == []


def test_a_small_body_sent_in_chunks_is_still_read_whole_and_rewritten(looked_up):
    pytest.importorskip("anyio", reason="the rewrite asks the database on anyio's worker thread")
    body = json.dumps(list_test_body("apiframe_url")).encode()
    route_saw, called_at = call_in_chunks([body[:10], body[10:40], body[40:]])
    assert called_at == 3 and len(route_saw) == 1
    assert json.loads(route_saw[0]) == {**list_test_body("apiframe_url"), "port": None}
    assert looked_up == ["apiframe_url"]
