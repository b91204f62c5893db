"""Small loopback HTTP servers for what the emulator's CDN does not do: cut a body short, serve a huge file,
or stand between the client and the emulator to see every request's headers."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Respond = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Server:
    url: str
    # (method, path, headers) of every request, in order.
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def serve(respond: Respond) -> Iterator[Server]:
    """Serve every GET and POST with ``respond(handler)`` on a free loopback port; stopped on exit."""
    server_state = Server(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self) -> None:
            server_state.requests.append((self.command, self.path, dict(self.headers)))
            respond(self)

        do_GET = do_POST = handle_one

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: pytest shows what matters

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="test-http", daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def cut_short(body: bytes) -> Respond:
    """Promise the whole body, send half of it, and close the connection: a download dropped midway."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True

    return respond


def fixed(status: int, body: bytes, content_type: str = "image/png") -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def huge(head: bytes, block: bytes, blocks: int, tail: bytes = b"") -> Respond:
    """``head``, then ``block`` ``blocks`` times from the same buffer, then ``tail``: the server allocates
    nothing."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(head) + len(block) * blocks + len(tail)))
        handler.end_headers()
        handler.wfile.write(head)
        for _ in range(blocks):
            handler.wfile.write(block)
        handler.wfile.write(tail)

    return respond


def files(bodies: dict[str, bytes], content_type: str = "application/octet-stream") -> Respond:
    """Serve each ``path -> body`` with a 200, and 404 elsewhere."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        body = bodies.get(handler.path)
        if body is None:
            fixed(404, b"not found", "text/plain")(handler)
        else:
            fixed(200, body, content_type)(handler)

    return respond


def forward_to(upstream: str, rewrite: Callable[[str, bytes], bytes] | None = None) -> Respond:
    """
    A reverse proxy to ``upstream`` that keeps the Host header, so the emulator's image URLs point here;
    ``rewrite(path, body)``, if given, turns each answer's body into what the client gets.
    """
    target = urlsplit(upstream)

    def respond(handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        try:
            connection.request(handler.command, handler.path, body=body, headers=dict(handler.headers))
            answer = connection.getresponse()
            content = answer.read()
        finally:
            connection.close()
        if rewrite is not None:
            content = rewrite(handler.path, content)
        handler.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return respond
