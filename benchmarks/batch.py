"""
One data set, three ways, under a real Airflow (scheduler, triggerer, LocalExecutor on one SQLite DB):

- ours: one ``ImagenBatchGenerateOperator`` task for every row;
- mapped: one ``ImagenGenerateOperator`` instance per row (each submits, defers and resumes);
- stock: a mapped ``HttpOperator`` submit and a mapped ``HttpSensor`` (poke mode, every 5 s) per row,
  with 5 task retries 30 s apart for the 429s.

Each contender gets a fresh emulator enforcing a per-key rate limit (``--rate-limit`` a minute) with
production's variety (lognormal job lengths, median ``--median`` s, 8 by default, sigma 0.4) and a fresh
Airflow. Printed side by side, with ratios to ours: wall time (DAG run start to end) over the rate-limit
bound (rows / limit), how much over "bound + longest job" that is, requests per image (every API request
of the contender's key, submits included), 429 answers, rows without an image, and worker-slot seconds
(task instances in the ``running`` state, sampled every 0.25 s, integrated over the run) as a share of
the wall time. Rows and limit scale together (the ratios matter): 100 rows at 50 a minute is a
two-minute bound, as 1,000 at 500 is.

    .venvs/airflow-3.3/bin/python benchmarks/batch.py --rows 100 --rate-limit 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlparse
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_provider_apiframe.emulator import emulator_process  # noqa: E402
from benchmarks.airflow_cluster import AirflowCluster  # noqa: E402

KEY = "afk_benchmark_batch"
DAGS = {"ours": "bench_batch", "mapped": "bench_mapped", "stock": "bench_stock"}
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")


def connections(url: str, limit: int) -> dict[str, str]:
    host = urlparse(url)
    apiframe = f"apiframe://:{KEY}@{host.hostname}:{host.port}?" + urlencode({"rate_limit_per_minute": limit})
    http = {"conn_type": "http", "host": host.hostname, "port": host.port, "extra": {"X-API-Key": KEY}}
    return {
        "AIRFLOW_CONN_APIFRAME_BATCH": apiframe,
        "AIRFLOW_CONN_APIFRAME_MAPPED": apiframe,
        "AIRFLOW_CONN_APIFRAME_HTTP": json.dumps(http),
    }


def api(url: str, path: str, key: str = KEY) -> dict:
    request = Request(url + path, headers={"X-API-Key": key})
    while True:
        try:
            with urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except OSError:  # a 429 to our own look-ups: they come after the measurement, so just wait
            time.sleep(2)


def finished_jobs(url: str, key: str = KEY) -> list[dict]:
    jobs, cursor = [], None
    while True:
        query = urlencode({"limit": 100, **({"cursor": cursor} if cursor else {})})
        page = api(url, "/v2/jobs?" + query, key)
        jobs += page["jobs"]
        if not page.get("hasMore"):
            return jobs
        cursor = page["nextCursor"]


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class RunningSampler(threading.Thread):
    """
    Integrates the task instances a query counts as running over time (worker-slot seconds), every
    quarter second; keeps the largest value another query gives, if one is given.
    """

    def __init__(self, cluster: AirflowCluster, running_sql: str, peak_sql: str | None = None) -> None:
        super().__init__(daemon=True)
        self.cluster, self.running_sql, self.peak_sql = cluster, running_sql, peak_sql
        self.slot_seconds = 0.0
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self.stop.is_set():
            time.sleep(0.25)
            try:
                [(running,)] = self.cluster.query(self.running_sql)
                [(peak,)] = self.cluster.query(self.peak_sql) if self.peak_sql else [(0,)]
            except Exception:  # a database busy or restarting its connections: the next sample counts
                continue
            now = time.monotonic()
            self.slot_seconds += int(running) * (now - last)
            self.peak = max(self.peak, int(peak or 0))
            last = now


def explain_failure(cluster: AirflowCluster, home: Path, dag_id: str) -> None:
    """Print, for a run that did not succeed, each task's tries and the end of its logs (to stderr)."""
    for task_id, map_index, state, try_number in cluster.query(
        "select task_id, map_index, state, try_number from task_instance where dag_id = ?", dag_id
    ):
        print(f"task {task_id}[{map_index}]: {state}, try {try_number}", file=sys.stderr)
    for log in sorted((home / "logs").rglob("*.log")):
        if f"dag_id={dag_id}" in str(log):
            print(f"--- {log.relative_to(home)}\n{log.read_text(errors='replace')[-2500:]}", file=sys.stderr)
    for component in sorted(home.glob("*.log")):
        lines = [line for line in component.read_text(errors="replace").splitlines() if dag_id in line]
        print(f"--- {component.name}\n" + "\n".join(lines[-15:]), file=sys.stderr)


def production_variety(key: str, median: float, seed: int, limit: int) -> list[str]:
    """The emulator's arguments: production's variety of jobs (lognormal, mixed progress), the key's limit."""
    return [
        "--api-key", key,
        "--job-duration", str(median), "--duration-sigma", "0.4", "--progress-shape", "mixed",
        "--seed", str(seed), "--credits", "1000000000",
        "--rate-limit-per-minute", str(limit),
    ]  # fmt: skip


def measure(name: str, args: argparse.Namespace) -> dict:
    rows, limit = args.rows, args.rate_limit
    dag_id = DAGS[name]
    with (
        emulator_process(*production_variety(KEY, args.median, args.seed, limit)) as url,
        tempfile.TemporaryDirectory(prefix="apiframe-bench-") as tmp,
    ):
        env = {
            **connections(url, limit),
            "APIFRAME_BENCH_ROWS": str(rows),
            "APIFRAME_BENCH_TIMINGS": f"{tmp}/timings.jsonl",
        }
        home = Path(tmp) / "home"
        with AirflowCluster(home, ROOT / "benchmarks" / "batch_dags", env) as cluster:
            cluster.wait_for(
                "the DAGs to be parsed", lambda: cluster.query("select 1 from dag where dag_id = ?", dag_id)
            )
            sampler = RunningSampler(
                cluster, f"select count(*) from task_instance where dag_id = '{dag_id}' and state = 'running'"
            )
            sampler.start()
            cluster.cli("dags", "trigger", dag_id)

            def ended() -> str | None:
                rows_ = cluster.query("select state from dag_run where dag_id = ?", dag_id)
                return rows_[0][0] if rows_ and rows_[0][0] in ("success", "failed") else None

            try:
                state = cluster.wait_for("the run to end", ended, timeout=args.cap)
            except AssertionError:
                state = "cut off"
            sampler.stop.set()
            sampler.join()
            if state != "success":
                explain_failure(cluster, home, dag_id)
            [(start, end)] = cluster.query(
                "select start_date, end_date from dag_run where dag_id = ?", dag_id
            )
            stats = json.loads(urlopen(url + "/_emulator/stats", timeout=30).read())
        jobs = finished_jobs(url)
        timings = Path(f"{tmp}/timings.jsonl")
        operator_seconds = (
            sum(json.loads(line)["seconds"] for line in timings.read_text().splitlines())
            if timings.exists()
            else float("nan")
        )
    wall = (stamp(str(end)) if end else time.time()) - stamp(str(start))
    completed_prompts = {
        job["input"]["prompt"] for job in jobs if job["status"] == "COMPLETED" and job.get("input")
    }
    longest = max(
        (stamp(j["completedAt"]) - stamp(j["createdAt"]) for j in jobs if j.get("completedAt")), default=0
    )
    bound = 60.0 * rows / limit
    requests = sum(stats["requests_by_key"].values())
    return {
        "run": state,
        "wall s": wall,
        "wall / bound": wall / bound,
        "wall / (bound+longest)": wall / (bound + longest),
        "requests/image": requests / rows,
        "429s": float(stats["responses_by_status"].get("429", 0)),
        "failed images": float(rows - len(completed_prompts)),
        "jobs paid": float(stats["jobs_created"]),
        "worker-slot s": sampler.slot_seconds,
        "slot % of wall": 100 * sampler.slot_seconds / wall,
        "operator code s": operator_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--rate-limit", type=int, default=50)
    parser.add_argument("--median", type=float, default=8.0, help="median job length (s)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cap", type=float, default=1200.0, help="seconds before a contender is cut off")
    parser.add_argument("--contender", action="append", choices=list(DAGS))
    args = parser.parse_args()
    results = {}
    for name in args.contender or list(DAGS):
        results[name] = measure(name, args)
        print(name, json.dumps(results[name]), flush=True)
    names = list(results)
    print(
        f"\n{args.rows} rows, {args.rate_limit} requests a minute per key enforced (bound "
        f"{60 * args.rows / args.rate_limit:.0f} s), lognormal jobs median {args.median:g} s sigma 0.4 "
        "(ratios: ours / other)"
    )
    print(
        f"{'':24s}"
        + "".join(f"{n:>14s}" for n in names)
        + "".join(f"{'ours / ' + n:>16s}" for n in names[1:])
    )
    for metric in results[names[0]]:
        values = [results[n][metric] for n in names]
        if isinstance(values[0], str):
            print(f"{metric:24s}" + "".join(f"{v:>14s}" for v in values))
            continue
        ratios = [values[0] / v if v else float("nan") for v in values[1:]]
        print(f"{metric:24s}" + "".join(f"{v:14.2f}" for v in values) + "".join(f"{r:16.2f}" for r in ratios))


if __name__ == "__main__":
    main()
