"""The emulator command in a child process: its own interpreter, so its CPU is not the caller's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

LISTENING = "apiframe emulator listening on "


@contextmanager
def emulator_process(*cli_args: str) -> Iterator[str]:
    """Run ``python -m airflow_provider_apiframe.emulator --port 0 *cli_args``; yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_apiframe.emulator", "--port", "0", *cli_args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith(LISTENING):
            raise RuntimeError(f"The emulator did not start: {line!r}")
        yield line[len(LISTENING) :].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
