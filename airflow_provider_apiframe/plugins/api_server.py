"""
The provider's Airflow 3 API-server plugin: stored images served for review, and a Test Connection fix.

Its app (``fastapi_apps``, under ``/apiframe``) serves images of local data sets to reviewers' browsers:
``review_images.py`` and ``storage/review_urls.py`` say what it serves and to whom. It is built on its
first request (``ReviewImagesApp``), so that importing this module stays as light as below.

Its middleware works around an Airflow 3.3.2 bug. The React UI's Test button in the connection list sends
``port: Number(conn.port)``, so a connection saved without a port (the apiframe form hides the port; the
API URL carries it) is tested with ``port: 0``. The test route's ``_same_endpoint()`` counts only None and
"" as "no port", takes 0 for another endpoint than the stored NULL and, since the UI sends the masked
``***`` key rather than the key itself, answers 400 "The host or port to test differs from the stored
connection". Fixed upstream by apache/airflow#73298 (0 counts as no port): this module, its
``plugins`` entry in get_provider_info and tests/plugins/test_ui_plugin.py can go once the minimum
supported Airflow has it.

Airflow 2.11 has no API server: its plugin manager ignores ``fastapi_apps`` and
``fastapi_root_middlewares``. The module imports nothing beyond the plugin base class and the route's
prefix (``storage/review_urls.py``, which loads no web framework) until a request to the test route or
the app comes in.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowPlugin

from airflow_provider_apiframe.storage.review_urls import URL_PREFIX

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONN_TYPE = "apiframe"
# Matched at the end of the path so that an API server behind a base URL prefix is covered too.
TEST_ROUTE = "/api/v2/connections/test"
# A Test Connection body is a few hundred bytes; a larger one is passed on as it comes, never rewritten.
BODY_READ_MAX = 8 * 1024


@dataclass(frozen=True)
class StoredEndpoint:
    """The stored connection's type, host and port: what decides whether a test may drop its port."""

    conn_type: str | None
    host: str | None
    port: int | None


def _unset(value: object) -> bool:
    # The same notion of "no host/port" as the route's _same_endpoint(): None or "".
    return value is None or value == ""


def sends_port_0(body: object) -> bool:
    """Whether ``body`` is a JSON object with ``port: 0``: what the list sends for a NULL port."""
    # `type(...) is int`: JSON false parses to False, which equals 0 but is not what the UI sends.
    return isinstance(body, dict) and type(body.get("port")) is int and body["port"] == 0


def port_to_clear(body: dict[str, Any], stored: StoredEndpoint | None) -> bool:
    """Whether ``body`` is the list's test of a stored apiframe connection without a port, sent as 0."""
    if stored is None or not sends_port_0(body):
        return False
    # Only the stored connection decides: a body's conn_type is whatever the caller wrote.
    if stored.conn_type != CONN_TYPE or not _unset(stored.port):
        return False
    # Testing another host must still bring its own key, as Airflow demands: only the stored host passes.
    if "host" in body:
        requested = None if _unset(body["host"]) else body["host"]
        return requested == (None if _unset(stored.host) else stored.host)
    return True


def stored_endpoint(connection_id: str) -> StoredEndpoint | None:
    """Read the connection's row in the metadata database: what the connection list shows and tests."""
    # The lookup runs before Airflow authenticates the request, so it reads the metadata database only,
    # like the route's own pre-authorization get_team_name(); the secrets backends, which the route
    # guards behind its authorization check, are never touched from here.
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(Connection.conn_type, Connection.host, Connection.port).where(
        Connection.conn_id == connection_id
    )
    with create_session() as session:
        row = session.execute(query).one_or_none()
    return None if row is None else StoredEndpoint(row.conn_type, row.host, row.port)


class ConnectionTestPortMiddleware:
    """Pure ASGI middleware: rewrites ``port: 0`` to ``null`` in the list's test of a portless apiframe."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, with its body rewritten where it is the list's test of a portless apiframe."""
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith(TEST_ROUTE):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_small_body(receive)
        if body is not None:
            rewritten = await self._rewrite(body)
            if rewritten is not None:
                messages = deque([{"type": "http.request", "body": rewritten, "more_body": False}])
                scope = dict(scope, headers=_with_content_length(scope["headers"], len(rewritten)))

        async def replay() -> Message:
            # What was read first, then the real channel: the rest of a large body, or a disconnect.
            return messages.popleft() if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _rewrite(body: bytes) -> bytes | None:
        """Return the body to pass on instead, or None to pass it on unchanged (Airflow judges a bad one)."""
        try:
            data: Any = json.loads(body)
        except ValueError:
            return None
        # Cheap checks first: the database is only asked about bodies that carry the list's port 0.
        if not sends_port_0(data):
            return None
        connection_id = data.get("connection_id")
        if not isinstance(connection_id, str):
            return None
        import anyio.to_thread

        # The metadata database is synchronous: keep it off the API server's event loop.
        stored = await anyio.to_thread.run_sync(stored_endpoint, connection_id)
        if not port_to_clear(data, stored):
            return None
        data["port"] = None
        return json.dumps(data).encode()


async def _read_small_body(receive: Receive) -> tuple[deque[Message], bytes | None]:
    """
    Read the request's messages, and the whole body if it came within ``BODY_READ_MAX`` bytes (else None).

    Reading stops once the body passes the limit: the rest streams to the route untouched, and the
    API server's memory and event loop spend nothing on a body no Test Connection sends.
    """
    messages: deque[Message] = deque()
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client went away: pass that on unchanged
            return messages, None
        size += len(message.get("body", b""))
        if size > BODY_READ_MAX:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _with_content_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name.lower() != b"content-length"]
    return [*kept, (b"content-length", str(length).encode())]


class ReviewImagesApp:
    """Pure ASGI app: builds ``review_images.py``'s FastAPI app on its first request and hands it each one."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request to the FastAPI app, built the first time."""
        if self.app is None:
            from airflow_provider_apiframe.plugins.review_images import create_app

            self.app = create_app()
        await self.app(scope, receive, send)


class ApiframeApiServerPlugin(AirflowPlugin):
    """Registered through the ``airflow.plugins`` entry point and the provider info's ``plugins``."""

    name = "apiframe_api_server"
    fastapi_apps = [  # noqa: RUF012 - AirflowPlugin declares these as class-level lists
        {"name": "apiframe stored images for review", "app": ReviewImagesApp(), "url_prefix": URL_PREFIX}
    ]
    fastapi_root_middlewares = [  # noqa: RUF012
        {"name": "apiframe connection test without a port", "middleware": ConnectionTestPortMiddleware}
    ]
