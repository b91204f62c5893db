"""
Run example DAGs end to end against the bundled emulator: no key, no network, no credits.

Starts the emulator (unless ``--emulator-url`` names one already running), points the ``apiframe_default``
connection at it, runs each DAG with ``airflow dags test`` (which also runs the deferred trigger), and
prints a short summary: each DAG's outcome, the images written with their model, size and prompt, and a
contact sheet of them all (an HTML page and a PNG). Airflow's own log goes to a file the summary names,
and its last lines are printed when a DAG fails. Needs the package installed with its ``emulator`` extra.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from contact_sheet import entries, jobs_by_image_name, write_html, write_png

from airflow_provider_apiframe.emulator import emulator_process

ROOT = Path(__file__).resolve().parent.parent
DEMO_KEY = "afk_demo_emulator_key"
DEFAULT_DAGS = ["example_apiframe_imagen", "example_apiframe_models"]
LOG_TAIL_LINES = 40


def airflow_env(home: Path, url: str, api_key: str, output: Path) -> dict[str, str]:
    parsed = urlparse(url)
    return dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_APIFRAME_DEFAULT=f"apiframe://:{api_key}@{parsed.hostname}:{parsed.port}",
        APIFRAME_OUTPUT_DIR=str(output),
    )


def run_dags(dags: list[str], url: str, api_key: str, output: Path, home: Path, log: Path) -> None:
    """Each DAG with ``airflow dags test``, Airflow's output appended to ``log``; a line per DAG here."""
    env = airflow_env(home, url, api_key, output)
    airflow = str(Path(sys.executable).parent / "airflow")
    home.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        steps = [("airflow db migrate", [airflow, "db", "migrate"])]
        steps += [(dag_id, [airflow, "dags", "test", dag_id]) for dag_id in dags]
        for name, command in steps:
            print(f"  {name:40s}", end=" ", flush=True)
            handle.write(f"\n=== {' '.join(command[1:])} ===\n")
            handle.flush()
            started = time.monotonic()
            done = subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
            print(f"{'ok' if done.returncode == 0 else 'FAILED'} ({time.monotonic() - started:.0f} s)")
            if done.returncode:
                handle.flush()
                tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
                print(*tail, sep="\n")
                raise SystemExit(f"{name} failed; Airflow's whole log: {log}")


def summarize(output: Path, url: str, api_key: str, log: Path) -> None:
    made = entries(output, jobs_by_image_name(url, api_key))
    print(f"\n{len(made)} image(s) in {output}:")
    for entry in made:
        prompt = entry.prompt if len(entry.prompt) <= 50 else entry.prompt[:47] + "..."
        print(
            f"  {entry.path.relative_to(output)}  {entry.format} {entry.size[0]}x{entry.size[1]}"
            f"  {entry.model}  {prompt!r}"
        )
    print(f"Contact sheet: {write_html(output, made)} and {write_png(output, made)}")
    print(f"Airflow's log: {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "output")
    parser.add_argument("--dag", action="append", help=f"DAG id to run (default: {', '.join(DEFAULT_DAGS)})")
    parser.add_argument("--emulator-url", help="use this running emulator instead of starting one")
    parser.add_argument("--api-key", default=DEMO_KEY)
    parser.add_argument("--airflow-home", type=Path, help="default: a fresh temporary folder")
    parser.add_argument("--job-duration", type=float, default=3.0)
    args = parser.parse_args()
    dags = args.dag or DEFAULT_DAGS
    output = args.output.resolve()
    log = output / "airflow.log"
    with tempfile.TemporaryDirectory(prefix="apiframe-demo-") as scratch:
        home = args.airflow_home or Path(scratch)
        if args.emulator_url:
            run_dags(dags, args.emulator_url, args.api_key, output, home, log)
            summarize(output, args.emulator_url, args.api_key, log)
            return
        with emulator_process("--api-key", DEMO_KEY, "--job-duration", str(args.job_duration)) as url:
            print(f"Emulator running at {url}", flush=True)
            run_dags(dags, url, DEMO_KEY, output, home, log)
            summarize(output, url, DEMO_KEY, log)


if __name__ == "__main__":
    main()
