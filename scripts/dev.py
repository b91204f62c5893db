"""
The two README commands: ``demo`` and ``test``, each building the virtual environments it needs.

Environments live in ``.venvs/airflow-<version>`` and are built with uv from the constraints files in
``constraints/``, so a fresh machine gets the same versions that the suite last passed with. Only the
standard library is used here: this runs before anything is installed.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"
AIRFLOW_VERSIONS = {"3.3": "3.3.2", "2.11": "2.11.2"}
# The package's extras each environment gets: the browser test drives Airflow 3's UI only.
EXTRAS = {"3.3": "emulator,test,browser,cluster", "2.11": "emulator,test"}
DEMO_AIRFLOW = "3.3"
# Programs the suite starts for real, from Debian's packages: executable -> package.
SYSTEM_PROGRAMS = {
    "redis-server": "redis-server",
    "chromium": "chromium",
    "ffprobe": "ffmpeg",
    # Debian keeps the server's programs off PATH, under its major version.
    "/usr/lib/postgresql/*/bin/pg_ctl": "postgresql",
}
DEFAULT_PYTEST_ARGS = ["-q", "--durations=15"]
INTEGRATION_TESTS = "tests/integration"
UNIT_TEST_WORKERS = 4


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, env=env)


def uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    run(sys.executable, "-m", "pip", "install", "--quiet", "uv")
    return shutil.which("uv") or str(Path(sys.executable).parent / "uv")


def venv(series: str) -> Path:
    """The environment for one Airflow series, rebuilt when pyproject or its constraints change."""
    path = VENVS / f"airflow-{series}"
    constraints = ROOT / "constraints" / f"airflow-{series}.txt"
    stamp_value = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + constraints.read_bytes()
    ).hexdigest()
    stamp = path / ".installed"
    if stamp.exists() and stamp.read_text() == stamp_value:
        compile_bytecode(path)  # for an environment built before this step was added
        return path
    tool = uv()
    # The interpreter running this script: uv must not try to download one (only PyPI is reachable).
    run(tool, "venv", "--quiet", "--clear", "--python", sys.executable, path)
    env = dict(os.environ, VIRTUAL_ENV=str(path))
    run(
        tool,
        "pip",
        "install",
        "--quiet",
        "-c",
        constraints,
        f"apache-airflow=={AIRFLOW_VERSIONS[series]}",
        "-e",
        f"{ROOT}[{EXTRAS[series]}]",
        env=env,
    )
    stamp.write_text(stamp_value)
    compile_bytecode(path)
    return path


def compile_bytecode(path: Path) -> None:
    """
    Compile the environment's installed modules once, as pip does at install (uv leaves it to imports).

    Where PYTHONDONTWRITEBYTECODE is set (as in many containers) an import never caches what it compiled,
    and every Airflow process the suite starts (CLI commands, scheduler, triggerer, API server, task
    runners: dozens) would compile Airflow from source again, seconds each.
    """
    marker = path / ".bytecode"
    if marker.exists():
        return
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"  # the environment's, as built above
    site_packages = path / "lib" / python / "site-packages"
    print(f"+ compiling the modules in {site_packages}", flush=True)
    # Not checked: a few packages ship files that are not meant to compile (templates, old syntax).
    subprocess.run(
        [path / "bin" / "python", "-m", "compileall", "-q", "-q", "-j", "0", site_packages],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    marker.touch()


def system_programs() -> None:
    """Install with apt what the suite runs as real processes, when it is not there yet."""
    missing = sorted(
        {
            package
            for program, package in SYSTEM_PROGRAMS.items()
            if not (shutil.which(program) or glob.glob(program))
        }
    )
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(*sudo, "apt-get", "update", "-qq", env=env)
    run(*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)


def test(args: argparse.Namespace) -> None:
    system_programs()
    env3 = venv("3.3")
    bin3 = env3 / "bin"
    if not args.skip_lint:
        run(bin3 / "ruff", "check", ".")
        run(bin3 / "ruff", "format", "--check", ".")
        run(bin3 / "mypy")
    for series in args.airflow or list(AIRFLOW_VERSIONS):
        print(f"\n=== test suite on Airflow {AIRFLOW_VERSIONS[series]} ===", flush=True)
        for pytest_args in suite_runs(args.pytest_args):
            run(venv(series) / "bin" / "python", "-m", "pytest", *pytest_args)


def suite_runs(pytest_args: list[str]) -> list[list[str]]:
    """
    The whole suite in two runs: the tests within one process side by side (they mostly wait on
    loopback servers and timers), then those of real Airflow processes one at a time (each keeps both
    cores busy, and some measure what happens while a process is killed). Tests named on the command
    line run as asked.
    """
    if pytest_args != DEFAULT_PYTEST_ARGS:
        return [pytest_args]
    return [
        [*pytest_args, "-n", str(UNIT_TEST_WORKERS), f"--ignore={INTEGRATION_TESTS}"],
        [*pytest_args, INTEGRATION_TESTS],
    ]


def demo(args: argparse.Namespace) -> None:
    path = venv(DEMO_AIRFLOW)
    run(path / "bin" / "python", ROOT / "scripts" / "demo.py", "--output", args.output)


def main() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - runs before any environment exists
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(required=True)
    test_cmd = commands.add_parser("test", help="lint, then the suite on every supported Airflow")
    test_cmd.add_argument("--airflow", action="append", choices=list(AIRFLOW_VERSIONS))
    test_cmd.add_argument("--skip-lint", action="store_true")
    # The slowest tests are listed after each run: where CI's minutes go.
    test_cmd.add_argument("pytest_args", nargs="*", default=DEFAULT_PYTEST_ARGS)
    test_cmd.set_defaults(func=test)
    demo_cmd = commands.add_parser("demo", help="run the example DAG against the bundled emulator")
    demo_cmd.add_argument("--output", default=str(ROOT / "output"))
    demo_cmd.set_defaults(func=demo)
    args = parser.parse_args()
    try:
        args.func(args)
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode)


if __name__ == "__main__":
    main()
