"""The command line, the threaded runner and the package's import cost."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest
import requests

from airflow_provider_apiframe.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_apiframe.emulator.__main__ import main


def read_line(stream, timeout: float) -> str:
    """One line from a pipe, failing the test rather than hanging if it never comes."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines, "no line within the timeout"
    return lines[0]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_on_a_free_port_and_stops_cleanly_on_a_signal(stop_signal):
    command = [
        sys.executable,
        "-m",
        "airflow_provider_apiframe.emulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--api-key",
        "afk_cli_key_0001",
        "--credits",
        "50",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(process.stdout, timeout=20)
        prefix = "apiframe emulator listening on http://127.0.0.1:"
        assert line.startswith(prefix) and line.endswith("\n")
        url = line.split(" on ", 1)[1].strip()
        assert int(url.rsplit(":", 1)[1]) > 0
        me = requests.get(f"{url}/v2/me", headers={"X-API-Key": "afk_cli_key_0001"}, timeout=10)
        assert me.status_code == 200 and me.json()["team"]["credits"] == 50
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out == ""  # the listening line was the only output
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v2/models", timeout=2)


def test_cli_refuses_bad_settings():
    with pytest.raises(SystemExit) as exit_info:
        main(["--error-rate", "1.5"])
    assert exit_info.value.code == 2


def test_server_accepts_connections_as_soon_as_it_starts_and_frees_the_port_on_stop():
    with EmulatorServer(EmulatorConfig(api_keys=("afk_runner_key_1",))) as server:
        assert server.api_key == "afk_runner_key_1"
        response = requests.get(f"{server.url}/v2/me", headers={"X-API-Key": server.api_key}, timeout=10)
        assert response.status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/v2/models", timeout=2)


def test_server_on_a_port_in_use_fails_to_start(apiframe_emulator):
    port = int(apiframe_emulator.url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        EmulatorServer(port=port).start()


def test_factory_fixture_applies_overrides(apiframe_emulator_factory):
    server = apiframe_emulator_factory(credits=9, api_keys=("afk_factory_k1",))
    assert server.config.credits == 9 and server.config.job_duration == 0.3
    assert server.stats()["credits_balance"] == 9


def test_bad_config_is_refused():
    for overrides in ({"drop_rate": -0.1}, {"api_keys": ()}, {"retry_after_format": "minutes"}):
        with pytest.raises(ValueError):
            EmulatorConfig(**overrides)


def test_importing_the_package_and_plugin_loads_neither_aiohttp_nor_pillow_nor_airflow():
    code = (
        "import sys, airflow_provider_apiframe.emulator, airflow_provider_apiframe.emulator.pytest_plugin;"
        "print(sorted(m for m in ('PIL', 'aiohttp', 'airflow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"


def test_emulator_imports_nothing_from_the_rest_of_the_provider():
    """The client must not be able to mask a contract error by sharing code with the emulator."""
    import ast
    from pathlib import Path

    import airflow_provider_apiframe.emulator as package

    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 1, f"{path.name} reaches outside the emulator package"
                continue
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(("airflow_provider_apiframe", "airflow")), (path.name, name)
