"""
Human review in Airflow 3.3's UI: ``example_apiframe_review`` run for real, a reviewer picking in Chromium.

``airflow dags test`` runs the DAG in the background against the emulator (it waits for the review's answer,
polling the metadata database it shares with the API server); the API server serves the UI, the REST API
and the provider plugin's stored images. The reviewer signs in for real (the simple auth manager with a
user and password, not all-admins), so the images load with the UI's own session cookie, as they would
for anyone. The reviewer sees the six staged shots on the Required Actions page, picks two and responds;
the run then succeeds and the published data set holds exactly those two, with their manifest rows.
Screenshots go to ``$APIFRAME_TEST_ARTIFACTS`` (default ``<repo>/test-artifacts/ui``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from benchmarks.services import free_port
from tests.integration.ui.servers import (
    AIRFLOW,
    AIRFLOW_VERSION,
    BEFORE_3_3,
    ROOT,
    ProcessGroups,
    airflow_env,
    artifacts,
    rest_api,
    run_airflow,
    start_api_server,
    start_emulator,
    tail,
    wait_until_up,
)

pytestmark = BEFORE_3_3

if AIRFLOW_VERSION.release >= (3, 3):  # the browser extra is installed with Airflow 3 only
    from playwright.sync_api import expect

DAG_ID = "example_apiframe_review"
KEY = f"afk_review_test_{secrets.token_hex(8)}"
REVIEWER, PASSWORD = "reviewer", secrets.token_urlsafe(16)
SHOTS = ["studio", "marble", "kitchen", "flat-lay", "low-key", "pastel"]
CHOSEN = ["marble", "low-key"]
IMAGES = 'img[src*="/apiframe/images?"]'
RUN_TIMEOUT = 60.0


@dataclass
class ReviewRun:
    base: str
    home: Path
    run_id: str
    token: str
    dags_test: subprocess.Popen[Any]

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return rest_api(self.base, method, path, body, token=self.token)

    def run_path(self) -> str:
        return f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(self.run_id, safe='')}"

    def body(self) -> str:
        return self.api("GET", f"{self.run_path()}/taskInstances/review/-1/hitlDetails")["body"]

    def image_urls(self) -> list[str]:
        return [part.split(")", 1)[0].strip("<>") for part in self.body().split("](")[1:]]


def sign_in(base: str) -> str:
    """The reviewer's token, as the login form gets it."""
    request = urllib.request.Request(
        f"{base}/auth/token",
        data=json.dumps({"username": REVIEWER, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)["access_token"]


def wait_for_the_review(base: str, token: str, dags_test: subprocess.Popen[Any], log: Path) -> str:
    """Wait until the run's review task awaits its answer; return the run's id."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        if dags_test.poll() is not None:
            pytest.fail(
                f"airflow dags test ended ({dags_test.returncode}) before the review:\n{tail(log, KEY)}"
            )
        runs = rest_api(base, "GET", f"/api/v2/dags/{DAG_ID}/dagRuns", token=token)["dag_runs"]
        if runs:
            run_id = runs[0]["dag_run_id"]
            task = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/review"
            if rest_api(base, "GET", task, token=token)["state"] == "awaiting_input":
                return run_id
        time.sleep(0.5)
    pytest.fail(f"the review did not start within {RUN_TIMEOUT:.0f} s:\n{tail(log, KEY)}")


@pytest.fixture(scope="module")
def review_run() -> Iterator[ReviewRun]:
    """The example DAG's run, waiting at its review, with an API server a reviewer signs in to."""
    home = Path(tempfile.mkdtemp(prefix="apiframe-review-airflow-"))
    dags = home / "dags"
    dags.mkdir()
    # Only this DAG: `dags test` and the API server parse nothing else.
    shutil.copy(ROOT / "example_dags" / f"{DAG_ID}.py", dags)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({REVIEWER: PASSWORD}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = airflow_env(
        home,
        dags,
        APIFRAME_OUTPUT_DIR=str(home / "images"),
        # The review's image URLs are absolute, under the API server the reviewer uses.
        AIRFLOW__API__BASE_URL=base,
        # Only the staging data set may be served; the published one is not under review.
        AIRFLOW__APIFRAME__REVIEW_ROOTS=str(home / "images" / "review" / "staging"),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{REVIEWER}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
    )
    servers = ProcessGroups()
    try:
        emulator_url = start_emulator(servers, env, home / "emulator.log", KEY)
        run_airflow(env, home / "airflow-cli.log", "db", "migrate", secret=KEY)
        api_log = home / "api-server.log"
        server = start_api_server(servers, env, port, api_log)
        # The key reaches `dags test` the way demo.py passes it; the API server never has it.
        conn = f"apiframe://:{KEY}@127.0.0.1:{emulator_url.rsplit(':', 1)[1]}"
        dags_test_log = home / "dags-test.log"
        dags_test = servers.start(
            [str(AIRFLOW), "dags", "test", DAG_ID],
            dict(env, AIRFLOW_CONN_APIFRAME_DEFAULT=conn),
            dags_test_log,
        )
        wait_until_up(f"{base}/api/v2/monitor/health", server, api_log, secret=KEY)
        token = sign_in(base)
        run_id = wait_for_the_review(base, token, dags_test, dags_test_log)
        yield ReviewRun(base, home, run_id, token, dags_test)
    finally:
        servers.stop_all()
        shutil.rmtree(home, ignore_errors=True)


def screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(artifacts() / f"{name}.png"), full_page=True, animations="disabled")


def status_of(url: str, token: str | None = None) -> tuple[int, str, bytes]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_a_stored_image_is_served_to_a_signed_in_user_only_and_nothing_else_is(review_run):
    urls = review_run.image_urls()
    assert len(urls) == len(SHOTS) and all(
        url.startswith(f"{review_run.base}/apiframe/images?") for url in urls
    )
    status, content_type, data = status_of(urls[0], review_run.token)
    assert (status, content_type) == (200, "image/png")
    assert hashlib.sha256(data).hexdigest() == parse_qs(urlsplit(urls[0]).query)["sha256"][0]
    # The UI's session (or a token) is needed; without one, nothing.
    assert status_of(urls[0])[0] == 401
    # A file on the API server's disk that no staging manifest lists is no stored image, whatever its digest.
    passwords = review_run.home / "passwords.json"
    digest = hashlib.sha256(passwords.read_bytes()).hexdigest()
    other = f"{review_run.base}/apiframe/images?path={quote(str(passwords))}&sha256={digest}"
    assert status_of(other, review_run.token)[0] == 404


def test_the_reviewer_sees_the_shots_picks_two_and_exactly_those_are_published(page, review_run):
    served: list[tuple[int, str | None]] = []
    page.on(
        "response",
        lambda r: (
            served.append((r.status, r.headers.get("content-type"))) if "/apiframe/images?" in r.url else None
        ),
    )
    # Signed in as the login page leaves it: /auth/token's token in the `_token` cookie, which the page's
    # <img> requests carry (they send no Authorization header).
    page.context.add_cookies([{"name": "_token", "value": review_run.token, "url": review_run.base}])
    page.goto(f"{review_run.base}/dags/{DAG_ID}/runs/{review_run.run_id}/tasks/review/required_actions")
    images = page.locator(IMAGES)
    expect(images).to_have_count(len(SHOTS))
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{IMAGES}')].every(image => image.complete)", timeout=20_000
    )
    loaded = images.evaluate_all("images => images.map(image => [image.alt, image.naturalWidth])")
    assert loaded == [[name, 768] for name in SHOTS]  # every shot drawn, in order, under its option's name
    assert served == [(200, "image/png")] * len(SHOTS)
    screenshot(page, "review-required-action")

    choice = page.get_by_role("combobox", name="Select one or multiple values")
    for name in CHOSEN:
        choice.click()
        page.keyboard.type(name)
        page.keyboard.press("Enter")
    for name in CHOSEN:
        expect(page.locator("#element_chosen_options").get_by_text(name, exact=True)).to_be_visible()
    screenshot(page, "review-chosen")
    with page.expect_response(lambda r: "/hitlDetails" in r.url and r.request.method == "PATCH") as answer:
        page.get_by_role("button", name="Respond").click()
    assert answer.value.status == 200, answer.value.text()
    assert sorted(answer.value.json()["chosen_options"]) == sorted(CHOSEN)

    # The run goes on: `dags test` runs publish and ends with the run.
    try:
        code = review_run.dags_test.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run did not end after the answer:\n{tail(review_run.home / 'dags-test.log', KEY)}")
    assert code == 0, tail(review_run.home / "dags-test.log", KEY)
    assert review_run.api("GET", review_run.run_path())["state"] == "success"
    page.reload()
    expect(page.get_by_text("Response received at", exact=False)).to_be_visible()
    screenshot(page, "review-responded")

    # The published data set: one part holding exactly the chosen shots, each with its staging row.
    results = review_run.api(
        "GET", f"{review_run.run_path()}/taskInstances/generate/xcomEntries/return_value"
    )
    chosen_paths = [Path(path) for row in results["value"] if row["id"] in CHOSEN for path in row["paths"]]
    staged = {
        path.name: json.loads(line)
        for path in chosen_paths
        for line in (path.parent / "metadata.jsonl").read_text().splitlines()
        if json.loads(line)["file_name"] == path.name
    }
    [part] = (review_run.home / "images" / "review" / "published").iterdir()
    published = [json.loads(line) for line in (part / "metadata.jsonl").read_text().splitlines()]
    assert sorted(row["id"] for row in published) == sorted(CHOSEN)
    assert {row["file_name"]: row for row in published} == staged
    assert sorted(p.name for p in part.iterdir()) == sorted([*staged, "metadata.jsonl"])
    for path in chosen_paths:
        assert (part / path.name).read_bytes() == path.read_bytes()
    publish = review_run.api("GET", f"{review_run.run_path()}/taskInstances/publish/xcomEntries/return_value")
    assert sorted(publish["value"]) == sorted(str(part / path.name) for path in chosen_paths)
    # The key went to `dags test` only: no log, database row or file of the run holds it.
    assert [p for p in review_run.home.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()] == []
