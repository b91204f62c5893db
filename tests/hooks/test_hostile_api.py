"""
The client against a hostile stand-in for the API and its CDN on loopback: redirects to other hosts,
answers that drip or never come, bodies too large, files that are not images, URLs that pick names.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
from http.server import BaseHTTPRequestHandler

import pytest
from PIL import Image

from airflow_provider_apiframe.exceptions import (
    ApiframeConfigurationError,
    ApiframeError,
    ApiframeRedirectError,
    ApiframeResponseTooLargeError,
    ApiframeTransientError,
    ApiframeUnexpectedResponseError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.wire.api_url import api_base_url
from airflow_provider_apiframe.wire.transport import MAX_JSON_BYTES
from tests.conftest import TEST_KEY, connection_uri
from tests.storage.servers import fixed, huge, serve

JOB_ID = "0b7f3c9e-8a4d-4f7e-9c1a-2d3e4f5a6b7c"


def png(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG")
    return out.getvalue()


def use_api(monkeypatch, url: str, **extra: object) -> ApiframeHook:
    monkeypatch.setenv("AIRFLOW_CONN_APIFRAME_DEFAULT", connection_uri(url, **extra))
    return ApiframeHook()


def redirect_to(target: str):
    def respond(handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        handler.rfile.read(length)
        handler.send_response(307)
        handler.send_header("Location", target + handler.path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def test_no_request_with_the_key_follows_a_redirect(monkeypatch):
    with serve(fixed(200, b'{"id": "x"}', "application/json")) as elsewhere:
        api_server = serve(redirect_to(elsewhere.url))
        with api_server as api:
            hook = use_api(monkeypatch, api.url, max_retries=0)
            calls = {
                "get_job": lambda: hook.get_job(JOB_ID),
                "submit": lambda: hook.submit({"model": "imagen-4", "prompt": "p"}, "key-1"),
                "trigger's get_job": lambda: asyncio.run(_async_get_job(hook)),
            }
            for name, call in calls.items():
                with pytest.raises(ApiframeRedirectError) as info:
                    call()
                assert info.value.location.startswith(elsewhere.url), name
                assert elsewhere.url in str(info.value) and TEST_KEY not in str(info.value), name
    assert len(api.requests) == 3 and all(headers["X-API-Key"] == TEST_KEY for *_, headers in api.requests)
    assert elsewhere.requests == []


async def _async_get_job(hook: ApiframeHook) -> None:
    async with hook.async_client() as client:
        await client.get_job(JOB_ID)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.apiframe.ai", "https://api.apiframe.ai"),
        ("api.apiframe.ai:443", "https://api.apiframe.ai:443"),
        ("", "https://api.apiframe.ai"),
        ("https://proxy.example/apiframe/", "https://proxy.example/apiframe"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("localhost", "http://localhost"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_a_host_without_a_scheme_is_reached_over_https_except_on_this_machine(host, expected):
    assert api_base_url("c", host, None, None, {}) == expected


def test_plain_http_elsewhere_needs_an_explicit_opt_in(caplog):
    with pytest.raises(
        ApiframeConfigurationError, match=r"clear text to http://api\.example\.com.*allow_insecure"
    ):
        api_base_url("mine", "http://api.example.com", None, None, {})
    with pytest.raises(ApiframeConfigurationError, match="scheme 'ftp'"):
        api_base_url("mine", "ftp://api.example.com", None, None, {})
    url = api_base_url("mine", "http://api.example.com", None, None, {"allow_insecure_http": True})
    assert url == "http://api.example.com" and "plain HTTP" in caplog.text


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _drip(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(60):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.5)


@pytest.mark.parametrize("host", ["refused", "unresolvable", "black-holed", "drip-fed"])
def test_test_connection_answers_within_seconds_whatever_the_host_does(monkeypatch, host):
    with socket.socket() as silent, serve(_drip) as drip:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections into its backlog and never answers
        url = {
            "refused": f"http://127.0.0.1:{_refused_port()}",
            "unresolvable": "https://apiframe-test.invalid",
            "black-holed": f"http://127.0.0.1:{silent.getsockname()[1]}",
            "drip-fed": drip.url,
        }[host]
        # The connection's own settings would ride out failures for five minutes.
        monkeypatch.setenv(
            "AIRFLOW_CONN_APIFRAME_DEFAULT",
            json.dumps({"conn_type": "apiframe", "host": url, "password": TEST_KEY}),
        )
        started = time.monotonic()
        ok, message = ApiframeHook().test_connection()
        elapsed = time.monotonic() - started
    assert not ok and "GET /v2/me" in message and TEST_KEY not in message
    assert elapsed < 15, f"{host}: {elapsed:.1f} s"


def test_a_drip_fed_answer_stops_at_the_request_timeout(monkeypatch):
    with serve(_drip) as api:
        hook = use_api(monkeypatch, api.url, timeout=1, max_retries=0)
        started = time.monotonic()
        with pytest.raises(ApiframeTransientError, match="timed out"):
            hook.get_account()
        # One read may still be under way at the deadline: at most one more timeout.
        assert time.monotonic() - started < 3


def test_a_json_answer_over_the_cap_is_refused_while_it_streams(monkeypatch):
    head = b'{"team": {"name": "'
    with serve(huge(head, b"x" * 65536, MAX_JSON_BYTES // 65536 + 2)) as api:
        hook = use_api(monkeypatch, api.url, max_retries=0)
        with pytest.raises(ApiframeResponseTooLargeError, match="more than"):
            hook.get_account()


def test_garbled_answers_are_typed_errors(monkeypatch):
    nested = b"[" * 100_000 + b"]" * 100_000
    with serve(fixed(200, nested, "application/json")) as api:
        hook = use_api(monkeypatch, api.url, max_retries=0)
        with pytest.raises(ApiframeUnexpectedResponseError, match="not JSON"):
            hook.get_account()


def test_a_body_json_cannot_carry_is_refused_before_sending(apiframe_conn):
    with pytest.raises(ApiframeValidationError, match="cannot be written as JSON"):
        ApiframeHook().submit({"model": "imagen-4", "prompt": "p", "x": float("nan")}, "k")
    assert apiframe_conn.stats()["submits"] == 0


@pytest.mark.parametrize("pasted", [f"{TEST_KEY}\n", f"  {TEST_KEY}\t"])
def test_a_key_pasted_with_whitespace_around_it_works(apiframe_conn, monkeypatch, pasted):
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT",
        json.dumps({"conn_type": "apiframe", "host": apiframe_conn.url, "password": pasted}),
    )
    assert ApiframeHook().get_account()["team"]["credits"] >= 0


def test_a_key_with_a_control_character_is_a_configuration_error(monkeypatch):
    broken = TEST_KEY[:5] + "\x00" + TEST_KEY[5:]
    monkeypatch.setenv(
        "AIRFLOW_CONN_APIFRAME_DEFAULT",
        json.dumps({"conn_type": "apiframe", "host": "http://127.0.0.1:9", "password": broken}),
    )
    with pytest.raises(ApiframeConfigurationError, match="control character") as info:
        ApiframeHook().get_account()
    assert TEST_KEY[5:] not in str(info.value)


def cdn(files: dict[str, tuple[int, bytes]]):
    """Serve ``path -> (status, body)``, 404 elsewhere."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        status, body = files.get(handler.path, (404, b"not found"))
        fixed(status, body, "application/octet-stream")(handler)

    return respond


def test_download_images_keeps_only_images_under_safe_names(monkeypatch, tmp_path):
    image = png()
    files = {
        f"/a/{JOB_ID}-1.png": (200, image),
        f"/b/{JOB_ID}-2.PNG": (200, png((4, 4))),
        "/a/x.png": (200, image),
        "/b/x.png": (200, png((2, 2))),
        "/.bashrc": (200, image),
    }
    with serve(cdn(files)) as server:
        urls = [server.url + path for path in files]
        paths = ApiframeHook().download_images(urls, tmp_path / "out")
    names = [p.rpartition("/")[2] for p in paths]
    assert names[:2] == [f"{JOB_ID}-1.png", f"{JOB_ID}-2.png"]
    # Not named by the server: two x.png stay two files, and no dotfile appears.
    assert len(set(names)) == 5 and all(n.startswith("image-") and n.endswith(".png") for n in names[2:])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    with Image.open(paths[3]) as kept:
        assert kept.size == (2, 2)
    assert all(TEST_KEY not in str(headers) for *_, headers in server.requests)


def test_download_images_refuses_what_is_not_an_image_and_what_is_too_big(tmp_path):
    credentials = b'{"AccessKeyId": "ASIA...", "SecretAccessKey": "..."}'
    metadata = "/latest/meta-data/role"
    refused = pytest.raises(ApiframeError, match="not give a PNG")
    with serve(cdn({metadata: (200, credentials)})) as server, refused:
        ApiframeHook().download_images([server.url + metadata], tmp_path / "a")
    assert list((tmp_path / "a").iterdir()) == []
    with serve(huge(png()[:64], b"\0" * 65536, 40)) as server, pytest.raises(ApiframeResponseTooLargeError):
        ApiframeHook().download_images([server.url + "/big.png"], tmp_path / "b", max_bytes=1_000_000)
    assert list((tmp_path / "b").iterdir()) == []


def test_download_images_refuses_other_schemes_at_once(tmp_path):
    started = time.monotonic()
    with pytest.raises(ApiframeValidationError, match=r"urls\[1\]: must be an http\(s\) URL"):
        ApiframeHook().download_images(["https://cdn.example/a.png", "file:///etc/passwd"], tmp_path)
    assert time.monotonic() - started < 5 and list(tmp_path.iterdir()) == []
