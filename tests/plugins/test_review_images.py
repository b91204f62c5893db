"""
The API server's app for review images, as the plugin mounts it: authentication first, then the checks of
``storage/review_urls.py``, one 404 for every refusal, and the headers that keep a browser to the type.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_provider_apiframe.plugins import api_server as api_server_plugin

pytest.importorskip("fastapi", reason="Airflow 2.11 has no API server")


@pytest.fixture
def staged(tmp_path, stage_images, monkeypatch):
    root = tmp_path / "root"
    monkeypatch.setenv("AIRFLOW__APIFRAME__REVIEW_ROOTS", str(root))
    return stage_images(root / "staging", ["a", "b"])


def mounted(signed_in: bool):
    """The plugin's app mounted where the API server mounts it, with or without a signed-in user."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    [entry] = api_server_plugin.ApiframeApiServerPlugin.fastapi_apps
    lazy = api_server_plugin.ReviewImagesApp()  # a fresh one: the class's is shared by the whole process
    client = TestClient(Starlette(routes=[Mount(entry["url_prefix"], app=lazy)]))
    if signed_in:
        from airflow.api_fastapi.core_api.security import get_user

        client.get("/apiframe/images")  # builds the app
        assert lazy.app is not None
        lazy.app.dependency_overrides[get_user] = lambda: object()
    return client


def url(path: str, sha256: str) -> str:
    return f"/apiframe/images?path={quote(path)}&sha256={sha256}"


def test_a_signed_in_user_gets_the_image_with_its_checked_type(staged):
    [(path, row), _] = staged
    answer = mounted(signed_in=True).get(url(path, row.sha256))
    assert answer.status_code == 200
    assert answer.content == Path(path).read_bytes()
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["content-length"] == str(row.bytes)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cross-origin-resource-policy"] == "same-origin"
    assert answer.headers["etag"] == f'"{row.sha256}"'
    assert answer.headers["cache-control"].startswith("private")


def test_without_a_session_nothing_is_served(staged):
    [(path, row), _] = staged
    # No cookie and no bearer token: Airflow's own dependency answers, before any file is looked at.
    answer = mounted(signed_in=False).get(url(path, row.sha256))
    assert answer.status_code == 401


def test_every_refusal_is_the_same_404_and_its_reason_is_only_logged(staged, tmp_path, caplog):
    [(path, row), (other, _)] = staged
    secret = tmp_path / "secret.txt"
    secret.write_text("not for reviewers")
    client = mounted(signed_in=True)
    with caplog.at_level(logging.WARNING):
        answers = [
            client.get(url(path, "0" * 64)),  # another digest
            client.get(url(path.replace("/staging/", "/staging/../staging/"), row.sha256)),  # traversal
            client.get(url(str(secret), hashlib.sha256(secret.read_bytes()).hexdigest())),  # outside
            client.get(
                url(os.path.join(os.path.dirname(other), "metadata.jsonl"), row.sha256)
            ),  # the manifest
        ]
    assert [a.status_code for a in answers] == [404] * 4
    assert {a.json()["detail"] for a in answers} == {"No such stored image"}
    assert "secret" not in "".join(a.text for a in answers)
    assert "the manifest records another digest" in caplog.text and "under none of" in caplog.text


def test_malformed_queries_are_refused_by_their_shape(staged):
    [(path, row), _] = staged
    client = mounted(signed_in=True)
    assert client.get(url(path, "xyz")).status_code == 422
    assert client.get(f"/apiframe/images?sha256={row.sha256}").status_code == 422
    assert client.get(url("/" + "a" * 5000, row.sha256)).status_code == 422


def test_without_review_roots_nothing_is_served(staged, monkeypatch):
    [(path, row), _] = staged
    monkeypatch.delenv("AIRFLOW__APIFRAME__REVIEW_ROOTS")
    assert mounted(signed_in=True).get(url(path, row.sha256)).status_code == 404


def test_the_served_urls_are_under_the_plugins_mount():
    from airflow_provider_apiframe.storage.review_urls import served_url

    [entry] = api_server_plugin.ApiframeApiServerPlugin.fastapi_apps
    assert served_url("/x", "a" * 64, base_url="http://h").startswith(
        f"http://h{entry['url_prefix']}/images?"
    )
