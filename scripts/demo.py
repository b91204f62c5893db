"""
Run example DAGs end to end against the bundled emulator: no key, no network, no credits.

Starts the emulator (unless ``--emulator-url`` names one already running), points the ``apiframe_default``
connection at it, runs each DAG with ``airflow dags test`` (which also runs the deferred trigger), and
prints a short summary: each DAG's outcome, the images written with their model, size and prompt, and a
contact sheet of them all (an HTML page and a PNG). Airflow's own log goes to a file the summary names,
and its last lines are printed when a DAG fails. Needs the package installed with its ``emulator`` extra.

``airflow db migrate`` and each ``airflow dags test`` are Airflow's own CLI commands, run one after the
other in a single Airflow process (this script, started again with ``--airflow-steps``): Airflow's import
and its first task's setup are paid once, not once per DAG.
"""

from __future__ import annotations

import argparse
import json
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
DEFAULT_DAGS = [
    "example_apiframe_imagen",
    "example_apiframe_models",
    "example_apiframe_product_shot",
    "example_apiframe_clip_with_music",
]
# Video and music jobs take minutes in production; the demo's emulator makes them a few image jobs long.
DEMO_MEDIA_FACTORS = ["--video-duration-factor", "3", "--music-duration-factor", "2"]
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
    home.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    steps = [("airflow db migrate", ["db", "migrate"])]
    steps += [(dag_id, ["dags", "test", dag_id]) for dag_id in dags]
    status_read, status_write = os.pipe()
    command = [sys.executable, __file__, "--airflow-steps", json.dumps(steps)]
    with log.open("w") as handle:
        airflow = subprocess.Popen(
            [*command, "--status-fd", str(status_write)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            pass_fds=(status_write,),
        )
        os.close(status_write)
        running, failed, started = None, None, time.monotonic()
        # The Airflow process tells when each step starts and how it ends, a line each.
        with os.fdopen(status_read) as status:
            for line in status:
                event, name = line.rstrip("\n").split(" ", 1)
                if event == "start":
                    print(f"  {name:40s}", end=" ", flush=True)
                    running, started = name, time.monotonic()
                else:
                    print(f"{'ok' if event == 'ok' else 'FAILED'} ({time.monotonic() - started:.0f} s)")
                    running, failed = None, None if event == "ok" else name
        returncode = airflow.wait()
    if running:  # the process died in the middle of a step
        print(f"FAILED ({time.monotonic() - started:.0f} s)")
    failed = failed or running or (f"Airflow (exit code {returncode})" if returncode else None)
    if failed:
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        print(*tail, sep="\n")
        raise SystemExit(f"{failed} failed; Airflow's whole log: {log}")


def airflow_steps(steps: list[tuple[str, list[str]]], status_fd: int) -> int:
    """
    Run Airflow CLI commands one after the other in this process, as ``airflow <args>`` would run each;
    stop at the first that fails. Output goes where this process's goes; ``start NAME`` and then ``ok
    NAME`` or ``failed NAME`` go to ``status_fd``. Environment: AIRFLOW_HOME and the rest of Airflow's.
    """
    import traceback

    from airflow.__main__ import main as airflow_main

    with os.fdopen(status_fd, "w", buffering=1) as status:
        for name, args in steps:
            status.write(f"start {name}\n")
            print(f"\n=== {' '.join(args)} ===", flush=True)
            sys.argv = ["airflow", *args]
            try:
                airflow_main()
                ok = True
            except SystemExit as exit_:
                ok = exit_.code in (None, 0)
                if not ok:
                    print(f"airflow {' '.join(args)} exited: {exit_.code}", file=sys.stderr)
            except Exception:
                traceback.print_exc()
                ok = False
            sys.stdout.flush()
            sys.stderr.flush()
            status.write(f"{'ok' if ok else 'failed'} {name}\n")
            if not ok:
                return 1
    return 0


def summarize(output: Path, url: str, api_key: str, log: Path) -> None:
    made = entries(output, jobs_by_image_name(url, api_key))
    print(f"\n{len(made)} file(s) in {output}:")
    for entry in made:
        prompt = entry.prompt if len(entry.prompt) <= 50 else entry.prompt[:47] + "..."
        size = f"{entry.size[0]}x{entry.size[1]}" if entry.size[0] else "-"
        length = f" {entry.duration:.1f} s" if entry.duration else ""
        print(f"  {entry.path.relative_to(output)}  {entry.format} {size}{length}  {entry.model}  {prompt!r}")
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
    # Internal: this script as the Airflow process of run_dags.
    parser.add_argument("--airflow-steps", help=argparse.SUPPRESS)
    parser.add_argument("--status-fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.airflow_steps:
        sys.exit(airflow_steps(json.loads(args.airflow_steps), args.status_fd))
    dags = args.dag or DEFAULT_DAGS
    output = args.output.resolve()
    log = output / "airflow.log"
    with tempfile.TemporaryDirectory(prefix="apiframe-demo-") as scratch:
        home = args.airflow_home or Path(scratch)
        if args.emulator_url:
            run_dags(dags, args.emulator_url, args.api_key, output, home, log)
            summarize(output, args.emulator_url, args.api_key, log)
            return
        with emulator_process(
            "--api-key", DEMO_KEY, "--job-duration", str(args.job_duration), *DEMO_MEDIA_FACTORS
        ) as url:
            print(f"Emulator running at {url}", flush=True)
            run_dags(dags, url, DEMO_KEY, output, home, log)
            summarize(output, url, DEMO_KEY, log)


if __name__ == "__main__":
    main()
