"""
Run example DAGs end to end against the bundled emulator: no key, no network, no credits.

Starts the emulator (unless ``--emulator-url`` names one already running), points the ``apiframe_default``
connection at it, runs each DAG with ``airflow dags test`` (which also runs the deferred trigger), and
lists the images written. Needs the package installed with its ``emulator`` extra.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from airflow_provider_apiframe.emulator import emulator_process

ROOT = Path(__file__).resolve().parent.parent
DEMO_KEY = "afk_demo_emulator_key"


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


def run_dags(dags: list[str], url: str, api_key: str, output: Path, home: Path) -> None:
    env = airflow_env(home, url, api_key, output)
    airflow = str(Path(sys.executable).parent / "airflow")
    log = home / "db-migrate.log"
    home.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        migrated = subprocess.run(
            [airflow, "db", "migrate"], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    if migrated.returncode:
        raise SystemExit(f"airflow db migrate failed; see {log}")
    for dag_id in dags:
        print(f"\n=== airflow dags test {dag_id} ===", flush=True)
        subprocess.run([airflow, "dags", "test", dag_id], env=env, check=True)


def describe(output: Path) -> None:
    from PIL import Image

    files = sorted(p for p in output.iterdir() if p.is_file())
    print(f"\n{len(files)} image(s) in {output}:")
    for path in files:
        with Image.open(path) as image:
            print(f"  {path.name}  {image.format} {image.width}x{image.height}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "output")
    parser.add_argument("--dag", action="append", help="DAG id to run (default: example_apiframe_imagen)")
    parser.add_argument("--emulator-url", help="use this running emulator instead of starting one")
    parser.add_argument("--api-key", default=DEMO_KEY)
    parser.add_argument("--airflow-home", type=Path, help="default: a fresh temporary folder")
    parser.add_argument("--job-duration", type=float, default=3.0)
    args = parser.parse_args()
    dags = args.dag or ["example_apiframe_imagen"]
    output = args.output.resolve()
    with tempfile.TemporaryDirectory(prefix="apiframe-demo-") as scratch:
        home = args.airflow_home or Path(scratch)
        try:
            if args.emulator_url:
                run_dags(dags, args.emulator_url, args.api_key, output, home)
            else:
                with emulator_process("--api-key", DEMO_KEY, "--job-duration", str(args.job_duration)) as url:
                    print(f"Emulator running at {url}", flush=True)
                    run_dags(dags, url, args.api_key, output, home)
        except subprocess.CalledProcessError as err:
            raise SystemExit(err.returncode) from None
    describe(output)


if __name__ == "__main__":
    main()
