"""
Airflow 3.3's UI with the apiframe connection, driven in headless Chromium.

One throwaway Airflow home, emulator and API server serve the whole module (the server's start is most
of the cost). The tests check the connection form's fields, that what the form saves reaches
``ClientSettings``, Test Connection from the connection list (after saving through the REST API, the add
form and the edit form) against the emulator, and the "apiframe image" extra link of a task that ran.
Screenshots go to ``$APIFRAME_TEST_ARTIFACTS`` (default ``<repo>/test-artifacts/ui``), which is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_apiframe.wire.transport import ClientSettings
from benchmarks.services import free_port
from tests.integration.ui.servers import (
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
    wait_until_up,
)

pytestmark = BEFORE_3_3

if AIRFLOW_VERSION.release >= (3, 3):  # the browser extra is installed with Airflow 3 only
    from playwright.sync_api import expect

DAG_ID = "example_apiframe_imagen"
# New for every run, so that the scan for it at the end cannot be fooled by an older run's files.
KEY = f"afk_ui_test_{secrets.token_hex(8)}"
SETTINGS = ("Request timeout (s)", "Retry for (s)", "Max retries", "Rate limit per minute")
SETTINGS += ("Rate limit Redis connection", "Credit limit", "Credit limit per")
UNUSED = ("Port", "Schema", "Login")


@dataclass
class AirflowUI:
    base: str
    emulator: str
    emulator_port: int
    home: Path
    run_id: str

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return rest_api(self.base, method, path, body)

    def add_connection(self, connection_id: str, **fields: Any) -> None:
        body = {"connection_id": connection_id, "conn_type": "apiframe", **fields}
        self.api("POST", "/api/v2/connections", body)

    def connection(self, connection_id: str) -> dict[str, Any]:
        return self.api("GET", f"/api/v2/connections/{connection_id}")

    def emulator_stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.emulator}/_emulator/stats", timeout=10) as answer:
            return json.load(answer)

    def requests_with_key(self) -> int:
        return key_requests(self.emulator_stats())


def key_requests(stats: dict[str, Any]) -> int:
    digest = hashlib.sha256(KEY.encode()).hexdigest()[:12]  # how the emulator names a key
    return stats["requests_by_key"].get(digest, 0)


@pytest.fixture(scope="module")
def airflow_ui() -> Iterator[AirflowUI]:
    """An Airflow 3.3 home with one finished run of the example DAG, its API server and an emulator."""
    home = Path(tempfile.mkdtemp(prefix="apiframe-ui-airflow-"))
    env = airflow_env(
        home,
        ROOT / "example_dags",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        APIFRAME_OUTPUT_DIR=str(home / "images"),
    )
    servers = ProcessGroups()
    try:
        emulator_url = start_emulator(servers, env, home / "emulator.log", KEY)
        emulator_port = int(emulator_url.rsplit(":", 1)[1])

        log = home / "airflow-cli.log"
        run_airflow(env, log, "db", "migrate", secret=KEY)
        # The run the task instance page shows; the key reaches `dags test` the way demo.py passes it.
        conn = f"apiframe://:{KEY}@127.0.0.1:{emulator_port}"
        run_airflow(dict(env, AIRFLOW_CONN_APIFRAME_DEFAULT=conn), log, "dags", "test", DAG_ID, secret=KEY)

        port = free_port()
        api_log = home / "api-server.log"
        server = start_api_server(servers, env, port, api_log)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/api/v2/monitor/health", server, api_log, secret=KEY)
        ui = AirflowUI(base, emulator_url, emulator_port, home, run_id="")
        [run] = ui.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
        assert run["state"] == "success"
        ui.run_id = run["dag_run_id"]
        yield ui
    finally:
        servers.stop_all()
        shutil.rmtree(home, ignore_errors=True)


def screenshot(page: Any, name: str) -> None:
    """Saved for a person to look at; what it shows holds no key (the key field shows dots)."""
    assert KEY not in page.inner_text("body")
    page.screenshot(path=str(artifacts() / f"{name}.png"), full_page=True, animations="disabled")


def open_add_form(page: Any, ui: AirflowUI) -> Any:
    page.goto(f"{ui.base}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("combobox").click()  # Connection Type
    page.keyboard.type("apiframe")
    page.keyboard.press("Enter")
    expect(dialog.get_by_text("API URL", exact=True)).to_be_visible()
    return dialog


def open_extra_fields(dialog: Any, first_label: str = SETTINGS[0]) -> None:
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    expect(dialog.get_by_text(first_label, exact=True)).to_be_visible()


def setting_input(dialog: Any, name: str) -> Any:
    return dialog.locator(f'input[name="element_{name}"]')


def click_test_in_the_list(page: Any, ui: AirflowUI, connection_id: str) -> tuple[str, int, str]:
    """Click the connection's Test button in the list: the toast shown, the API's status and answer."""
    page.goto(f"{ui.base}/connections")
    row = page.get_by_role("row").filter(has=page.get_by_text(connection_id, exact=True))
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as answer:
        row.get_by_role("button", name="Test Connection").click()
    toast = page.locator('[data-scope="toast"][data-part="root"]').filter(has_text="Test Connection")
    expect(toast).to_be_visible()
    return toast.inner_text(), answer.value.status, answer.value.text()


def assert_tested_against_the_emulator(ui: AirflowUI, toast: str, before: dict[str, Any]) -> None:
    assert "Test Connection Successful" in toast, toast
    assert "Connected to apiframe: team apiframe emulator" in toast and "credits" in toast, toast
    # The API server's test reached the emulator with the stored key: one GET /v2/me, answered 200,
    # nothing submitted or charged.
    after = ui.emulator_stats()
    assert ui.requests_with_key() == key_requests(before) + 1
    assert after["responses_by_status"]["200"] == before["responses_by_status"]["200"] + 1
    assert (after["submits"], after["credits_charged"]) == (before["submits"], before["credits_charged"])


def test_add_form_shows_the_api_url_key_and_typed_settings_only(page, airflow_ui):
    dialog = open_add_form(page, airflow_ui)
    for label in ("API URL", "API Key", "Description"):
        expect(dialog.get_by_text(label, exact=True)).to_be_visible()
    for label in UNUSED:
        expect(dialog.get_by_text(label, exact=True)).to_have_count(0)
    host = dialog.locator('input[name="host"]')
    expect(host).to_have_attribute("placeholder", re.compile(re.escape("https://api.apiframe.ai")))
    screenshot(page, "add-form-standard-fields")
    open_extra_fields(dialog)
    for label in SETTINGS:
        expect(dialog.get_by_text(label, exact=True)).to_be_visible()
    for name in ("timeout", "retry_timeout", "max_retries", "rate_limit_per_minute", "credit_limit"):
        expect(setting_input(dialog, name)).to_have_role("spinbutton")  # a number field
    expect(setting_input(dialog, "rate_limit_redis_conn_id")).to_have_role("textbox")
    setting_input(dialog, "rate_limit_redis_conn_id").scroll_into_view_if_needed()
    screenshot(page, "add-form-typed-settings")


def test_add_form_saves_the_settings_under_the_extra_keys_client_settings_reads(page, airflow_ui):
    url = f"http://127.0.0.1:{airflow_ui.emulator_port}"
    dialog = open_add_form(page, airflow_ui)
    dialog.locator('input[name="connection_id"]').fill("apiframe_form")
    dialog.locator('input[name="host"]').fill(url)
    dialog.locator('input[name="password"]').fill(KEY)
    open_extra_fields(dialog)
    setting_input(dialog, "max_retries").fill("2")
    setting_input(dialog, "rate_limit_per_minute").fill("0")
    setting_input(dialog, "timeout").fill("12.5")
    setting_input(dialog, "credit_limit").fill("500")
    screenshot(page, "add-form-filled")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()

    stored = airflow_ui.connection("apiframe_form")
    assert (stored["conn_type"], stored["host"], stored["port"], stored["login"], stored["schema"]) == (
        "apiframe", url, None, None, None,
    )  # fmt: skip
    extra = json.loads(stored["extra"])
    # Airflow 3.3 stores each field under its plain name; the ones left empty as null.
    assert extra == {
        "timeout": 12.5,
        "retry_timeout": None,
        "max_retries": 2,
        "rate_limit_per_minute": 0,
        "rate_limit_redis_conn_id": None,
        "credit_limit": 500,
        "credit_limit_per": None,
    }
    settings = ClientSettings.from_connection_extra(url, KEY, extra)
    assert (settings.timeout, settings.retry_timeout, settings.max_retries) == (12.5, 300.0, 2)
    assert (settings.rate_limit_per_minute, settings.rate_limit_redis_conn_id) == (0, None)
    assert (settings.credit_limit, settings.credit_limit_per) == (500, "day")


def test_test_connection_from_the_list(page, airflow_ui):
    # As the README's emulator URI saves it: apiframe://:KEY@127.0.0.1:PORT?max_retries=3
    airflow_ui.add_connection(
        "apiframe_uri",
        host="127.0.0.1",
        port=airflow_ui.emulator_port,
        password=KEY,
        extra=json.dumps({"max_retries": 3}),
    )
    before = airflow_ui.emulator_stats()
    toast, _, _ = click_test_in_the_list(page, airflow_ui, "apiframe_uri")
    screenshot(page, "list-test-connection")
    assert_tested_against_the_emulator(airflow_ui, toast, before)


def test_test_connection_after_saving_the_edit_form(page, airflow_ui):
    airflow_ui.add_connection(
        "apiframe_edit",
        host="127.0.0.1",
        port=airflow_ui.emulator_port,
        password=KEY,
        extra=json.dumps({"max_retries": 3}),
    )
    page.goto(f"{airflow_ui.base}/connections")
    row = page.get_by_role("row").filter(has=page.get_by_text("apiframe_edit", exact=True))
    row.get_by_role("button", name="Edit Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator('input[name="host"]')).to_have_value("127.0.0.1")
    for label in UNUSED:
        expect(dialog.get_by_text(label, exact=True)).to_have_count(0)
    # Airflow 3.3's edit form shows the typed fields the extra holds (a URI-made connection: those it
    # names); the add form writes them all.
    open_extra_fields(dialog, "Max retries")
    expect(setting_input(dialog, "max_retries")).to_have_value("3")
    setting_input(dialog, "max_retries").fill("5")
    # Airflow 3.3 tests connections from the list only; its edit dialog has Save alone. Should a later
    # version add a Test button here, this test is the place to click it.
    expect(dialog.get_by_role("button", name="Test Connection")).to_have_count(0)
    screenshot(page, "edit-form")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()

    stored = airflow_ui.connection("apiframe_edit")
    assert stored["port"] == airflow_ui.emulator_port and stored["host"] == "127.0.0.1"
    extra = json.loads(stored["extra"])
    assert extra == {"max_retries": 5}
    # The saved form kept the stored key: the test from the list still authenticates with it.
    before = airflow_ui.emulator_stats()
    toast, _, _ = click_test_in_the_list(page, airflow_ui, "apiframe_edit")
    screenshot(page, "edit-form-then-list-test-connection")
    assert_tested_against_the_emulator(airflow_ui, toast, before)


def test_test_connection_from_the_list_without_a_stored_port(page, airflow_ui):
    # What the add form saves: the port inside the API URL, the port column empty. Airflow 3.3.2 alone
    # answers the list's Test with 400 here (its port-0 bug); the provider's API-server plugin fixes it.
    airflow_ui.add_connection(
        "apiframe_url", host=f"http://127.0.0.1:{airflow_ui.emulator_port}", password=KEY
    )
    before = airflow_ui.emulator_stats()
    toast, status, answer = click_test_in_the_list(page, airflow_ui, "apiframe_url")
    screenshot(page, "list-test-connection-without-port")
    assert status == 200, answer
    assert_tested_against_the_emulator(airflow_ui, toast, before)


def test_task_instance_page_links_the_generated_image(page, airflow_ui):
    run = quote(airflow_ui.run_id, safe="")
    xcom = airflow_ui.api(
        "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run}/taskInstances/generate/xcomEntries/image_url"
    )
    image_url = xcom["value"]
    assert image_url.startswith(f"{airflow_ui.emulator}/cdn/images/"), image_url
    page.goto(f"{airflow_ui.base}/dags/{DAG_ID}/runs/{airflow_ui.run_id}/tasks/generate/details")
    link = page.get_by_role("link", name="apiframe image", exact=True)
    expect(link).to_have_attribute("href", image_url)
    screenshot(page, "task-instance-extra-link")


def test_the_key_is_in_no_file_of_the_airflow_home(airflow_ui):
    """Last in the module: the metadata database, airflow.cfg, task logs and server logs, after it all."""
    files = [path for path in airflow_ui.home.rglob("*") if path.is_file()]
    assert any(path.name.endswith(".db") for path in files)
    assert [path for path in files if KEY.encode() in path.read_bytes()] == []
